import { transfer } from 'comlink'
import { sha256Hex } from '../core/hash.ts'
import { merkleRoot } from '../core/merkle.ts'
import type { Codec, ShardSet } from './codec.ts'

/**
 * What a codec worker offers over comlink. Segments travel as one `ArrayBuffer` each way, by
 * transfer, never by structured copy: the caller's buffer moves into the worker and comes back.
 * Inside, the bytes are copied once into wasm memory and the parity once out; the `ShardSet` is
 * kept between jobs of the same shape, so steady-state jobs allocate nothing in wasm.
 */
export interface CodecService {
  /** The module variant this worker runs. */
  variant(): Promise<CodecVariantName>
  /**
   * Encodes one segment: `data` is k shards of `shardLength` bytes back to back. Returns `data`
   * (the same bytes, handed back) and the m parity shards back to back.
   */
  encode(k: number, m: number, shardLength: number, data: ArrayBuffer): Promise<EncodeResult>
  /**
   * Encodes one segment in place: `shards` is k + m shards of `shardLength` back to back, the k data
   * shards filled. Writes the m parity shards after them and hands the buffer back, so a caller
   * that recycles its segment buffers makes no new memory per segment.
   */
  encodeShards(k: number, m: number, shardLength: number, shards: ArrayBuffer): Promise<ArrayBuffer>
  /**
   * `encodeShards`, then names each of the k + m shards while the worker still holds them: its
   * SHA-256 (the fragment id) and, with `roots`, its Merkle root (`core/merkle.ts`), both hex.
   * The hashing then runs beside the main thread instead of on it.
   */
  encodeShardsWithDigests(k: number, m: number, shardLength: number, shards: ArrayBuffer, roots: boolean): Promise<DigestedShards>
  /**
   * Rebuilds the shards with `present[i] === false` in `shards` (k + m back to back), in place,
   * and hands the buffer back.
   */
  reconstruct(k: number, m: number, shardLength: number, shards: ArrayBuffer, present: boolean[], dataOnly: boolean): Promise<ArrayBuffer>
  /** Checks parity; hands the buffer back with the verdict. */
  verify(k: number, m: number, shardLength: number, shards: ArrayBuffer): Promise<VerifyResult>
}

export type CodecVariantName = 'standard' | 'relaxed'
export interface EncodeResult { data: ArrayBuffer, parity: ArrayBuffer }
export interface VerifyResult { valid: boolean, shards: ArrayBuffer }
export interface DigestedShards { shards: ArrayBuffer, ids: string[], roots: string[] }

/**
 * Who builds the Merkle roots of `encodeShardsWithDigests`: the module (`wasm`, a multi-buffer
 * SHA-256 over the shards where they lie in wasm memory) or `core/merkle.ts` with whatever engine
 * this worker installed (`core`). Both give the same roots; the faster one differs by platform
 * (docs/performance.md, "Merkle roots at upload"): in Chromium the module is about 9× faster
 * than `@noble/hashes`, while in Node, `node:crypto` per leaf (SHA-NI, ~2.7 ms per MiB of tree)
 * beats SIMD128 without a rotate instruction (~5.1 ms).
 */
export type MerkleEngine = 'wasm' | 'core'

/** Options of `createCodecService`. */
export interface CodecServiceInit {
  /** Who builds Merkle roots. @default 'wasm' */
  merkle?: MerkleEngine
}

/**
 * Serves `loading` (the codec being instantiated). The service is exposed at once and every call
 * waits for the codec, so no message sent while the module compiles can be lost, and a module
 * that fails to load fails each job with the reason instead of hanging it.
 */
export function createCodecService (loading: Promise<Codec>, init: CodecServiceInit = {}): CodecService {
  const merkle = init.merkle ?? 'wasm'
  let cached: ShardSet | undefined
  loading.catch(() => {}) // reported through each call, not as an unhandled rejection

  const setFor = async (k: number, m: number, len: number): Promise<ShardSet> => {
    const codec = await loading
    if (cached === undefined || cached.k !== k || cached.m !== m || cached.shardLength !== len) {
      cached?.free()
      cached = undefined
      cached = codec.alloc(k, m, len)
    }
    return cached
  }

  const expectBytes = (buf: ArrayBuffer, want: number, what: string): void => {
    if (!(buf instanceof ArrayBuffer) || buf.byteLength !== want) {
      throw new RangeError(`${what} must be an ArrayBuffer of ${want} bytes, got ${buf instanceof ArrayBuffer ? buf.byteLength : typeof buf}`)
    }
  }

  /**
   * Fills the parity part of `shards` (k + m shards back to back, data filled) where it lies;
   * returns a view of it and, with `roots` and the `wasm` engine, the shards' Merkle roots. Those
   * are read from the cached set in the same synchronous stretch as the encode: once this returns,
   * another job of the same shape may have put its own shards there.
   */
  const encodeInPlace = async (k: number, m: number, shardLength: number, shards: ArrayBuffer, roots = false): Promise<{ view: Uint8Array, roots: string[] }> => {
    const set = await setFor(k, m, shardLength)
    expectBytes(shards, (k + m) * shardLength, 'shards')
    const view = new Uint8Array(shards)
    set.data().set(view.subarray(0, k * shardLength))
    set.encode()
    view.set(set.parity(), k * shardLength)
    const rootList = roots && merkle === 'wasm' ? Array.from({ length: k + m }, (_, i) => set.merkleRoot(i)) : []
    return { view, roots: rootList }
  }

  return {
    variant: async () => (await loading).variant,

    async encode (k, m, shardLength, data) {
      const set = await setFor(k, m, shardLength)
      expectBytes(data, k * shardLength, 'data')
      set.data().set(new Uint8Array(data))
      set.encode()
      const parity = set.parity().slice().buffer
      return transfer({ data, parity }, [data, parity])
    },

    async encodeShards (k, m, shardLength, shards) {
      await encodeInPlace(k, m, shardLength, shards)
      return transfer(shards, [shards])
    },

    async encodeShardsWithDigests (k, m, shardLength, shards, roots) {
      const done = await encodeInPlace(k, m, shardLength, shards, roots)
      const view = done.view
      const frags = Array.from({ length: k + m }, (_, i) => view.subarray(i * shardLength, (i + 1) * shardLength))
      const rootList = !roots ? [] : merkle === 'wasm' ? done.roots : frags.map(f => merkleRoot(f))
      const ids = await Promise.all(frags.map(async f => await sha256Hex(f)))
      return transfer({ shards, ids, roots: rootList }, [shards])
    },

    async reconstruct (k, m, shardLength, shards, present, dataOnly) {
      const set = await setFor(k, m, shardLength)
      expectBytes(shards, (k + m) * shardLength, 'shards')
      const view = new Uint8Array(shards)
      set.all().set(view)
      set.reconstruct(present, { dataOnly })
      view.set(set.all())
      return transfer(shards, [shards])
    },

    async verify (k, m, shardLength, shards) {
      const set = await setFor(k, m, shardLength)
      expectBytes(shards, (k + m) * shardLength, 'shards')
      set.all().set(new Uint8Array(shards))
      const valid = set.verify()
      return transfer({ valid, shards }, [shards])
    }
  }
}
