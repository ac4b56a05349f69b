import { TAG_BYTES } from './envelope.ts'

/**
 * How a file is cut. A segment's plaintext is sized so that its ciphertext (plaintext + the 16-byte
 * GCM tag) fills exactly k shards of `shardSize`; only the last segment is shorter, and its shards
 * shrink to fit (a 1-byte file costs k + m fragments of ceil(17 / k) bytes, not of 1 MiB).
 *
 * The default shard is 1 MiB: the codec reaches its full speed there (bench:codec), a fragment is
 * one comfortable network message, and memory per segment in flight stays at (k + m) MiB.
 */
export const DEFAULT_SHARD_SIZE = 1 << 20

export interface SegmentLayout {
  /** File size in bytes. */
  size: number
  k: number
  shardSize: number
  /** Plaintext bytes of every segment but the last. */
  segmentPlaintext: number
  /** Number of segments (≥ 1: an empty file is one empty, still authenticated segment). */
  count: number
}

export function segmentLayout (size: number, k: number, shardSize = DEFAULT_SHARD_SIZE): SegmentLayout {
  if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`Bad file size ${size}`)
  const segmentPlaintext = k * shardSize - TAG_BYTES
  if (segmentPlaintext < 1) throw new RangeError(`Shards of ${shardSize} bytes are too small for k = ${k}`)
  return { size, k, shardSize, segmentPlaintext, count: Math.max(1, Math.ceil(size / segmentPlaintext)) }
}

/** Byte range of segment `index` in the plaintext file. */
export function segmentRange (l: SegmentLayout, index: number): { offset: number, length: number } {
  const offset = index * l.segmentPlaintext
  return { offset, length: Math.max(0, Math.min(l.segmentPlaintext, l.size - offset)) }
}

/** Shard length for a segment whose ciphertext is `ciphertextLength` bytes. */
export function shardLengthFor (ciphertextLength: number, k: number): number {
  return Math.ceil(ciphertextLength / k)
}

/** The segments a plaintext byte range [start, end) touches: what a range read must fetch. */
export function segmentsForRange (l: SegmentLayout, start: number, end: number): { first: number, last: number } {
  if (start < 0 || end > l.size || start > end) throw new RangeError(`Range ${start}-${end} is outside 0-${l.size}`)
  if (start === end) return { first: 0, last: -1 }
  return { first: Math.floor(start / l.segmentPlaintext), last: Math.floor((end - 1) / l.segmentPlaintext) }
}
