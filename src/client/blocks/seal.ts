/**
 * Sealing: a segment's plaintext encrypted and erasure-coded into its k + m fragments, in place.
 */
import { encryptSegment, TAG_BYTES, type SegmentCipher } from '../../core/envelope.ts'
import { sha256Hex } from '../../core/hash.ts'
import { merkleRoot } from '../../core/merkle.ts'
import type { StoragePolicy } from '../../core/policy.ts'
import { releaseBytes } from '../../core/release.ts'
import { segmentRange, shardLengthFor, type SegmentLayout } from '../../core/segments.ts'
import type { ByteSource, ErasureCoder } from '../ports.ts'
import { SegmentBuffers, type BufferSource } from './segment-buffers.ts'

/** One segment encrypted and encoded: its k + m fragments are views of `shards`, in order. */
export interface SealedSegment {
  /** All k + m shards back to back: the buffer to hand back to `SegmentBuffers` once stored. */
  shards: Uint8Array
  frags: Uint8Array[]
  ciphertextLength: number
  shardLength: number
  /** Ids and Merkle roots of the fragments, when the coder computed them (`SealParams.digests`). */
  digests?: { ids: string[], roots: string[] }
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
  /**
   * Have a coder that can (`encodeShardsWithDigests`) name the fragments too: `SealedSegment.digests`
   * then holds their ids and, when `digests` is `'roots'`, their Merkle roots.
   * @default undefined (the coder only encodes)
   */
  digests?: 'ids' | 'roots'
}

/**
 * Encrypts `plain` straight into the data part of one k + m shard buffer (zero-padded to whole
 * shards) and has the coder fill the parity part. One buffer per segment, written in place, so a
 * caller that recycles buffers (`SegmentBuffers`) allocates no segment memory in steady state:
 * fresh 10–14 MiB buffers cost their first-touch page faults every time (the upload's AES output
 * alone was 7 % of a 1 GiB put's main thread, see docs/performance.md).
 */
export async function sealSegment (plain: Uint8Array, p: SealParams): Promise<SealedSegment> {
  const { k, m } = p.policy
  const ciphertextLength = plain.length + TAG_BYTES
  const shardLength = shardLengthFor(ciphertextLength, k)
  const buffer = p.buffers?.take((k + m) * shardLength) ?? new Uint8Array((k + m) * shardLength)
  await encryptSegment(p.key, p.fileId, p.index, p.count, plain, p.cipher, buffer.subarray(0, ciphertextLength))
  buffer.fill(0, ciphertextLength, k * shardLength) // a recycled buffer holds an earlier segment's bytes
  const options = p.signal === undefined ? {} : { signal: p.signal }
  if (p.digests !== undefined && p.coder.encodeShardsWithDigests !== undefined) {
    const r = await p.coder.encodeShardsWithDigests(k, m, buffer, p.digests === 'roots', options)
    const frags = Array.from({ length: k + m }, (_, i) => r.shards.subarray(i * shardLength, (i + 1) * shardLength))
    return { shards: r.shards, frags, ciphertextLength, shardLength, digests: { ids: r.ids, roots: r.roots } }
  }
  const shards = await p.coder.encodeShards(k, m, buffer, options)
  const frags = Array.from({ length: k + m }, (_, i) => shards.subarray(i * shardLength, (i + 1) * shardLength))
  return { shards, frags, ciphertextLength, shardLength }
}

/** A segment sealed and named: its fragments, their ids and Merkle roots, and the digest of its plaintext. */
export interface PreparedSegment extends SealedSegment {
  ids: string[]
  /**
   * Merkle root (hex, `core/merkle.ts`) of each of the k + m fragments, in order: what an audit
   * checks a farmer's proofs against. Empty when the sealer was made with `merkleRoots: false`.
   */
  roots: string[]
  /** SHA-256 (hex) of the plaintext, for the file's content hash and to notice a changed source. */
  digest: string
}

/** What a `SegmentSealer` seals with. */
export interface SegmentSealerInit {
  key: CryptoKey
  fileId: Uint8Array
  layout: SegmentLayout
  policy: StoragePolicy
  coder: ErasureCoder
  cipher?: SegmentCipher
  source: ByteSource
  signal?: AbortSignal
  /** Called after each step of each segment, with its plaintext length. */
  onStep?: (step: 'read' | 'encoded', bytes: number, segment: number) => void
  /**
   * Compute each fragment's Merkle root (`PreparedSegment.roots`). Off only to measure what the
   * trees cost (`bench/audit.ts`): a file put without roots cannot be audited.
   * @default true
   */
  merkleRoots?: boolean
}

/**
 * Reads, hashes, encrypts, encodes and names one segment at a time. Segment buffers (k + m shards
 * each) come back through `give` once stored, and the next segment is sealed into one: one waits at
 * most, since segments are prepared one at a time; on a 1 GiB CLI put (4 in flight) that already
 * reuses 84 of 103 buffers, and keeping 4 reused nearly all but held 30–40 MiB more at peak (see
 * docs/performance.md).
 */
export class SegmentSealer {
  readonly #c: SegmentSealerInit
  readonly #buffers = new SegmentBuffers(1)
  /** The reused plaintext buffer (see `#readPlain`). */
  #plainBuffer: Uint8Array | undefined

  constructor (init: SegmentSealerInit) {
    this.#c = init
  }

  /** Seals segment `s`. Its own function so that a plaintext from `read` is garbage as soon as it returns. */
  async prepare (s: number): Promise<PreparedSegment> {
    const { source, signal, layout } = this.#c
    const r = segmentRange(layout, s)
    const plain = r.length === 0 ? new Uint8Array(0) : await this.#readPlain(r.offset, r.length)
    this.#c.onStep?.('read', r.length, s)
    const digest = await sha256Hex(plain)
    const sealed = await sealSegment(plain, {
      key: this.#c.key, fileId: this.#c.fileId, index: s, count: layout.count, policy: this.#c.policy, coder: this.#c.coder, buffers: this.#buffers,
      digests: this.#c.merkleRoots === false ? 'ids' : 'roots',
      ...(this.#c.cipher !== undefined ? { cipher: this.#c.cipher } : {}), ...(signal !== undefined ? { signal } : {})
    })
    // Encrypted: not read again. (With `readInto` it is the reused buffer, kept.)
    if (source.fresh === true && source.readInto === undefined) releaseBytes(plain)
    this.#c.onStep?.('encoded', r.length, s)
    const { digests, ...rest } = sealed
    if (digests !== undefined) return { ...rest, ids: digests.ids, roots: digests.roots, digest }
    // A coder that cannot name the fragments: hash here. The trees synchronously, since 1 KiB
    // leaves are too many for one awaited digest each (see core/merkle.ts); 1.7 ms per MiB with
    // node:crypto, 14–30 with the pure-JS engine, which a worker pool takes off this thread
    // (bench/audit.ts).
    const ids = await Promise.all(rest.frags.map(async f => await sha256Hex(f)))
    const roots = this.#c.merkleRoots === false ? [] : rest.frags.map(f => merkleRoot(f))
    return { ...rest, ids, roots, digest }
  }

  /** Hands back a segment's shard buffer once every fragment is stored: the next segment is sealed into it. */
  give (shards: Uint8Array): void {
    this.#buffers.give(shards)
  }

  /** Frees the buffers kept for reuse. */
  clear (): void {
    this.#buffers.clear()
  }

  /**
   * A segment's plaintext: read into the one plaintext buffer when the source can do that
   * (`readInto`; safe because segments are prepared one at a time and the plaintext is not used once
   * encrypted), else a buffer from `read`.
   */
  async #readPlain (offset: number, length: number): Promise<Uint8Array> {
    const { source } = this.#c
    if (source.readInto === undefined) return await source.read(offset, length)
    if (this.#plainBuffer === undefined || this.#plainBuffer.length < length) this.#plainBuffer = new Uint8Array(length)
    const view = this.#plainBuffer.subarray(0, length)
    await source.readInto(offset, view)
    return view
  }
}
