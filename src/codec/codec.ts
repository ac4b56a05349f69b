import { toHex } from '../core/hash.ts'
import { codecError, CodecOutOfMemoryError, EmptyShardsError, InvalidShardCountsError, WrongShardCountError } from './errors.ts'

const MAX_WASM_BYTES = 2 ** 32 - 65536
const LEAF_BYTES = 1024
const HASH_BYTES = 32

/** Which build of the module runs: plain SIMD128, or with relaxed swizzles (faster on x86). */
export type CodecVariant = 'standard' | 'relaxed'

/** The C ABI of `wasm/src/ffi.rs`. */
interface CodecExports {
  memory: WebAssembly.Memory
  sf_alloc(len: number): number
  sf_free(ptr: number, len: number): number
  sf_encode(k: number, m: number, len: number, table: number): number
  sf_reconstruct(k: number, m: number, len: number, table: number, present: number, dataOnly: number): number
  sf_verify(k: number, m: number, len: number, table: number): number
  sf_merkle_leaves(ptr: number, len: number, out: number): number
  sf_merkle_root(ptr: number, len: number, out: number): number
  sf_error_code(): number
  sf_error_field(i: number): number
}

/**
 * A Reed-Solomon codec instance: one wasm module with its own linear memory.
 *
 * Shards live in that memory (`ShardSet`), and JavaScript reads and writes them through views, so
 * encoding and reconstructing copy nothing. Views are cheap to make and must be re-made after any
 * allocation, because growing wasm memory detaches the old `ArrayBuffer`.
 */
export class Codec {
  readonly variant: CodecVariant
  readonly #x: CodecExports
  /** 32 bytes the module writes roots into, allocated on first use and kept. */
  #rootOut = 0

  private constructor (exports: CodecExports, variant: CodecVariant) {
    this.#x = exports
    this.variant = variant
  }

  /** Instantiates the module (compiled or as bytes). */
  static async instantiate (module: WebAssembly.Module | BufferSource, variant: CodecVariant): Promise<Codec> {
    const compiled = module instanceof WebAssembly.Module ? module : await WebAssembly.compile(module)
    const instance = await WebAssembly.instantiate(compiled, {})
    return new Codec(instance.exports as unknown as CodecExports, variant)
  }

  /** Bytes of linear memory the module holds now (grows, never shrinks). */
  get memoryBytes (): number {
    return this.#x.memory.buffer.byteLength
  }

  /**
   * Allocates k + m shards of `shardLength` bytes, contiguous and in order, in wasm memory.
   * Free it with `ShardSet.free()` when done; reuse it across segments of the same shape.
   */
  alloc (k: number, m: number, shardLength: number): ShardSet {
    if (!Number.isInteger(k) || !Number.isInteger(m) || k < 1 || m < 1 || k + m > 256) {
      throw new InvalidShardCountsError(k, m)
    }
    if (!Number.isInteger(shardLength) || shardLength < 1) throw new EmptyShardsError()
    const n = k + m
    const block = this.#allocate(n * shardLength)
    const table = this.#allocate(n * 4)
    const flags = this.#allocate(n)
    const t = new Uint32Array(this.#x.memory.buffer, table, n)
    for (let i = 0; i < n; i++) t[i] = block + i * shardLength
    return new ShardSet(this, k, m, shardLength, block, table, flags)
  }

  /**
   * The Merkle root (lowercase hex) of `bytes`, the tree of `src/core/merkle.ts` built by the
   * module's multi-buffer SHA-256; byte-identical to `merkleRoot`. Copies `bytes` into wasm
   * memory first: for shards already there, `ShardSet.merkleRoot` copies nothing.
   * Throws `EmptyShardsError` for no bytes.
   */
  merkleRoot (bytes: Uint8Array): string {
    if (bytes.byteLength === 0) throw new EmptyShardsError()
    const p = this.#allocate(bytes.byteLength)
    try {
      this.view(p, bytes.byteLength).set(bytes)
      return this.rootAt(p, bytes.byteLength)
    } finally {
      this.release(p, bytes.byteLength)
    }
  }

  /**
   * The leaf hashes of `bytes`' Merkle tree, 32 bytes each back to back (level 0 of
   * `buildTree(bytes).levels`). Throws `EmptyShardsError` for no bytes.
   */
  merkleLeaves (bytes: Uint8Array): Uint8Array {
    if (bytes.byteLength === 0) throw new EmptyShardsError()
    const outLen = Math.ceil(bytes.byteLength / LEAF_BYTES) * HASH_BYTES
    const p = this.#allocate(bytes.byteLength)
    try {
      const out = this.#allocate(outLen)
      try {
        this.view(p, bytes.byteLength).set(bytes)
        this.call(x => x.sf_merkle_leaves(p, bytes.byteLength, out))
        return this.view(out, outLen).slice()
      } finally {
        this.release(out, outLen)
      }
    } finally {
      this.release(p, bytes.byteLength)
    }
  }

  /** @internal The root of the `len` bytes at `ptr` in wasm memory, hex. */
  rootAt (ptr: number, len: number): string {
    if (this.#rootOut === 0) this.#rootOut = this.#allocate(HASH_BYTES)
    const out = this.#rootOut
    this.call(x => x.sf_merkle_root(ptr, len, out))
    return toHex(this.view(out, HASH_BYTES))
  }

  #allocate (len: number): number {
    // wasm32 addresses 4 GiB; a larger count would wrap when passed as an i32.
    if (len > MAX_WASM_BYTES) throw new CodecOutOfMemoryError(len)
    const p = this.#x.sf_alloc(len)
    if (p === 0) throw this.#lastError()
    return p
  }

  #lastError (): Error {
    const x = this.#x
    return codecError(x.sf_error_code(), [x.sf_error_field(0), x.sf_error_field(1), x.sf_error_field(2)])
  }

  /** @internal */
  view (ptr: number, len: number): Uint8Array {
    return new Uint8Array(this.#x.memory.buffer, ptr, len)
  }

  /** @internal */
  call (rc: (x: CodecExports) => number): number {
    const r = rc(this.#x)
    if (r < 0) throw this.#lastError()
    return r
  }

  /** @internal */
  release (ptr: number, len: number): void {
    this.#x.sf_free(ptr, len)
  }
}

/** k data + m parity shards in a codec's memory, with the operations that act on them. */
export class ShardSet {
  readonly codec: Codec
  readonly k: number
  readonly m: number
  readonly shardLength: number
  readonly #block: number
  readonly #table: number
  readonly #flags: number
  #freed = false

  /** @internal use `Codec.alloc` */
  constructor (codec: Codec, k: number, m: number, shardLength: number, block: number, table: number, flags: number) {
    this.codec = codec
    this.k = k
    this.m = m
    this.shardLength = shardLength
    this.#block = block
    this.#table = table
    this.#flags = flags
  }

  /** A view of shard `i` (0..k+m); data shards come first. */
  shard (i: number): Uint8Array {
    if (!Number.isInteger(i) || i < 0 || i >= this.k + this.m) throw new RangeError(`No shard ${i} in a ${this.k}+${this.m} set`)
    return this.codec.view(this.#block + i * this.shardLength, this.shardLength)
  }

  /** One view over the k data shards, back to back: a whole segment in one piece. */
  data (): Uint8Array {
    return this.codec.view(this.#block, this.k * this.shardLength)
  }

  /** One view over the m parity shards, back to back. */
  parity (): Uint8Array {
    return this.codec.view(this.#block + this.k * this.shardLength, this.m * this.shardLength)
  }

  /** One view over all k + m shards. */
  all (): Uint8Array {
    return this.codec.view(this.#block, (this.k + this.m) * this.shardLength)
  }

  /** Computes the m parity shards from the k data shards, in place. */
  encode (): void {
    this.#live()
    this.codec.call(x => x.sf_encode(this.k, this.m, this.shardLength, this.#table))
  }

  /**
   * Rebuilds, in place, every shard whose `present[i]` is false: only data shards when
   * `dataOnly`. Throws `NotEnoughShardsError` with fewer than k present.
   */
  reconstruct (present: ArrayLike<boolean>, options: { dataOnly?: boolean } = {}): void {
    this.#live()
    const n = this.k + this.m
    if (present.length !== n) throw new WrongShardCountError(n, present.length)
    const f = this.codec.view(this.#flags, n)
    for (let i = 0; i < n; i++) f[i] = present[i] === true ? 1 : 0
    this.codec.call(x => x.sf_reconstruct(this.k, this.m, this.shardLength, this.#table, this.#flags, options.dataOnly === true ? 1 : 0))
  }

  /** True when the parity shards are exactly what `encode` makes of the data shards. */
  verify (): boolean {
    this.#live()
    return this.codec.call(x => x.sf_verify(this.k, this.m, this.shardLength, this.#table)) === 1
  }

  /** The Merkle root (hex) of shard `i` where it lies in wasm memory (see `Codec.merkleRoot`). */
  merkleRoot (i: number): string {
    this.#live()
    this.shard(i) // range check
    return this.codec.rootAt(this.#block + i * this.shardLength, this.shardLength)
  }

  /** Returns the memory to the codec. The set is unusable afterwards. */
  free (): void {
    if (this.#freed) return
    this.#freed = true
    const n = this.k + this.m
    this.codec.release(this.#block, n * this.shardLength)
    this.codec.release(this.#table, n * 4)
    this.codec.release(this.#flags, n)
  }

  #live (): void {
    if (this.#freed) throw new RangeError('This ShardSet was freed')
  }
}
