import { encryptSegment, TAG_BYTES, type SegmentCipher } from '../core/envelope.ts'
import { releaseBytes } from '../core/release.ts'
import type { StoragePolicy } from '../core/policy.ts'
import { shardLengthFor } from '../core/segments.ts'
import type { ErasureCoder } from './ports.ts'

/** One segment encrypted and encoded: its k + m fragments are views of `shards`, in order. */
export interface SealedSegment {
  /** All k + m shards back to back: the buffer to hand back to `SegmentBuffers` once stored. */
  shards: Uint8Array
  frags: Uint8Array[]
  ciphertextLength: number
  shardLength: number
}

/** Where a segment's shard buffer comes from. */
export interface BufferSource {
  take: (bytes: number) => Uint8Array
}

export interface SealParams {
  key: CryptoKey
  fileId: Uint8Array
  index: number
  count: number
  policy: StoragePolicy
  coder: ErasureCoder
  cipher?: SegmentCipher
  buffers?: BufferSource
  signal?: AbortSignal
}

/**
 * Encrypts `plain` straight into the data part of one k + m shard buffer (zero-padded to whole
 * shards) and has the coder fill the parity part. One buffer per segment, written in place, so a
 * caller that recycles buffers (`SegmentBuffers`) allocates no segment memory in steady state:
 * fresh 10–14 MiB buffers cost their first-touch page faults every time (the upload's AES output
 * alone was 7 % of a 1 GiB put's main thread, see README).
 */
export async function sealSegment (plain: Uint8Array, p: SealParams): Promise<SealedSegment> {
  const { k, m } = p.policy
  const ciphertextLength = plain.length + TAG_BYTES
  const shardLength = shardLengthFor(ciphertextLength, k)
  const buffer = p.buffers?.take((k + m) * shardLength) ?? new Uint8Array((k + m) * shardLength)
  await encryptSegment(p.key, p.fileId, p.index, p.count, plain, p.cipher, buffer.subarray(0, ciphertextLength))
  buffer.fill(0, ciphertextLength, k * shardLength) // a recycled buffer holds an earlier segment's bytes
  const shards = await p.coder.encodeShards(k, m, buffer, p.signal === undefined ? {} : { signal: p.signal })
  const frags = Array.from({ length: k + m }, (_, i) => shards.subarray(i * shardLength, (i + 1) * shardLength))
  return { shards, frags, ciphertextLength, shardLength }
}

/**
 * Segment buffers kept for reuse: a buffer handed back comes out again for a request of its size.
 * At most `keep` wait here; the rest are freed at once (`releaseBytes`).
 */
export class SegmentBuffers implements BufferSource {
  readonly #free: ArrayBuffer[] = []
  readonly #keep: number

  constructor (keep: number) {
    this.#keep = keep
  }

  /** Buffers waiting to be reused. */
  get idle (): number {
    return this.#free.length
  }

  /** A buffer of `bytes`: a returned one when there is one of that size (its old bytes still in it), else a new one. */
  take (bytes: number): Uint8Array {
    const i = this.#free.findIndex(b => b.byteLength === bytes)
    if (i >= 0) return new Uint8Array(this.#free.splice(i, 1)[0]!)
    return new Uint8Array(bytes)
  }

  /** Hands back the whole buffer under `view`, which the caller owns and will not read again. */
  give (view: Uint8Array): void {
    const b = view.buffer
    if (b instanceof ArrayBuffer && b.byteLength > 0 && this.#free.length < this.#keep) {
      this.#free.push(b)
    } else {
      releaseBytes(view)
    }
  }

  /** Frees every waiting buffer. */
  clear (): void {
    releaseBytes(...this.#free.splice(0).map(b => new Uint8Array(b)))
  }
}
