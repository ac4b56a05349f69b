import { readFile } from 'node:fs/promises'
import { createHash } from 'node:crypto'
import { describe, it, expect, beforeAll } from 'vitest'
import { Codec, type CodecVariant } from './codec.ts'
import { loadCodec, supportsRelaxedSimd } from './loader.ts'
import { nodeModuleSource } from './source.node.ts'
import { GOLDEN, seededBytes } from './testing/vectors.ts'
import { loadOracle, oracleParity } from './testing/oracle.node.ts'

const oracle = loadOracle()
const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

/** A small deterministic PRNG so failures reproduce. */
function rng (seed: number): () => number {
  let x = seed >>> 0 || 1
  return () => { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; return x }
}

describe('codec module selection', () => {
  it('this Node supports relaxed SIMD, so auto picks the relaxed module', async () => {
    expect(supportsRelaxedSimd()).toBe(true)
    expect((await loadCodec(nodeModuleSource)).variant).toBe('relaxed')
  })
})

for (const variant of ['standard', 'relaxed'] as CodecVariant[]) {
  describe(`codec (${variant} module)`, () => {
    let codec: Codec
    beforeAll(async () => { codec = await loadCodec(nodeModuleSource, variant) })

    it('parity matches the pinned golden vectors', () => {
      for (const g of GOLDEN) {
        const set = codec.alloc(g.k, g.m, g.len)
        set.data().set(seededBytes(g.seed, g.k * g.len))
        set.encode()
        expect(sha256(set.parity()), `RS(${g.k},${g.m}) len ${g.len}`).toBe(g.parity)
        set.free()
      }
    })

    it('parity is byte-identical to the oracle for 60 random (k, m, shard length)', () => {
      const next = rng(variant === 'standard' ? 11 : 12)
      for (let t = 0; t < 60; t++) {
        const k = 1 + next() % 60
        const m = 1 + next() % Math.min(20, 256 - k)
        // Lengths around the 16- and 32-byte SIMD steps, and a few big ones.
        const len = t % 10 === 0 ? 65536 + next() % 1000 : 1 + next() % 300
        const data = seededBytes(next(), k * len)
        const set = codec.alloc(k, m, len)
        set.data().set(data)
        set.encode()
        expect(Buffer.compare(set.parity(), oracleParity(oracle, k, m, data)), `RS(${k},${m}) len ${len}`).toBe(0)
        set.free()
      }
    })

    it('reconstructs every erasure pattern of up to m shards when k + m ≤ 8', () => {
      for (let n = 2; n <= 8; n++) {
        for (let m = 1; m < n; m++) {
          const k = n - m
          const len = 45 // one 32-byte step, one 16-byte step... no: 32 + 13 scalar tail
          const set = codec.alloc(k, m, len)
          set.data().set(seededBytes(n * 100 + m, k * len))
          set.encode()
          const original = set.all().slice()
          for (let mask = 1; mask < 1 << n; mask++) {
            const lost = popcount(mask)
            if (lost > m) continue
            const present = Array.from({ length: n }, (_, i) => (mask & (1 << i)) === 0)
            for (let i = 0; i < n; i++) if (!present[i]) set.shard(i).fill(0xee)
            set.reconstruct(present)
            expect(Buffer.compare(set.all(), original), `RS(${k},${m}) lost ${mask.toString(2)}`).toBe(0)
          }
          set.free()
        }
      }
    })

    it('reconstructs random patterns for large codes, data-only leaves parity alone', () => {
      const next = rng(99)
      for (const [k, m] of [[200, 56], [128, 128], [10, 4], [32, 8]] as const) {
        const len = 1000
        const set = codec.alloc(k, m, len)
        set.data().set(seededBytes(k + m, k * len))
        set.encode()
        const original = set.all().slice()
        for (let t = 0; t < 4; t++) {
          const present = new Array<boolean>(k + m).fill(true)
          for (let lost = 0; lost < 1 + next() % m;) {
            const i = next() % (k + m)
            if (present[i] === true) { present[i] = false; lost++ }
          }
          for (let i = 0; i < k + m; i++) if (!present[i]) set.shard(i).fill(0)
          const dataOnly = t % 2 === 1
          set.reconstruct(present, { dataOnly })
          for (let i = 0; i < k + m; i++) {
            const want = dataOnly && i >= k && !present[i] ? new Uint8Array(len) : original.subarray(i * len, (i + 1) * len)
            expect(Buffer.compare(set.shard(i), want), `RS(${k},${m}) shard ${i}`).toBe(0)
          }
          set.all().set(original)
        }
        set.free()
      }
    })

    it('verify accepts good parity and catches one flipped bit anywhere', () => {
      const set = codec.alloc(10, 4, 50_000)
      set.data().set(seededBytes(5, 500_000))
      set.encode()
      expect(set.verify()).toBe(true)
      for (const [shard, pos] of [[0, 0], [9, 49_999], [10, 17], [13, 32_768]] as const) {
        set.shard(shard)[pos]! ^= 0x10
        expect(set.verify(), `flip in shard ${shard} at ${pos}`).toBe(false)
        set.shard(shard)[pos]! ^= 0x10
      }
      expect(set.verify()).toBe(true)
      set.free()
    })

    it('too few shards, bad counts and bad shapes give named errors', () => {
      const set = codec.alloc(4, 2, 100)
      expect(() => set.reconstruct([false, false, false, true, true, true])).toThrow(expect.objectContaining({
        name: 'NotEnoughShardsError', code: 'NOT_ENOUGH_SHARDS', details: { needed: 4, present: 3 }
      }))
      expect(() => set.reconstruct([true, true])).toThrow(expect.objectContaining({ name: 'WrongShardCountError' }))
      set.free()
      expect(() => set.encode()).toThrow(/freed/)
      for (const [k, m] of [[0, 2], [2, 0], [200, 57], [-1, 3], [1.5, 2]]) {
        expect(() => codec.alloc(k!, m!, 10)).toThrow(expect.objectContaining({ name: 'InvalidShardCountsError' }))
      }
      expect(() => codec.alloc(4, 2, 2 ** 31)).toThrow(expect.objectContaining({ name: 'CodecOutOfMemoryError' }))
    })
  })
}

describe('the C ABI refuses every bad argument without trapping or corrupting memory', () => {
  interface Abi {
    memory: WebAssembly.Memory
    sf_alloc(n: number): number
    sf_free(p: number, n: number): number
    sf_encode(k: number, m: number, len: number, t: number): number
    sf_reconstruct(k: number, m: number, len: number, t: number, p: number, d: number): number
    sf_verify(k: number, m: number, len: number, t: number): number
    sf_error_code(): number
    sf_error_field(i: number): number
  }
  let x: Abi
  beforeAll(async () => {
    const bytes = await readFile(new URL('./wasm/shardfarm_codec_standard.wasm', import.meta.url))
    x = (await WebAssembly.instantiate(bytes, {})).instance.exports as unknown as Abi
  })

  /** k + m shards of `len` in one allocation, with the pointer table; returns (table, block). */
  const shards = (k: number, m: number, len: number): { table: number, block: number } => {
    const block = x.sf_alloc((k + m) * len)
    const table = x.sf_alloc((k + m) * 4)
    const t = new Uint32Array(x.memory.buffer, table, k + m)
    for (let i = 0; i < k + m; i++) t[i] = block + i * len
    return { table, block }
  }

  it('names each bad argument', () => {
    const { table, block } = shards(3, 2, 64)
    const expectError = (rc: number, code: number, fields: number[]): void => {
      expect(rc).toBe(-code)
      expect(x.sf_error_code()).toBe(code)
      expect([0, 1, 2].map(i => x.sf_error_field(i)).slice(0, fields.length)).toEqual(fields)
    }
    expectError(x.sf_encode(0, 2, 64, table), 1, [0, 2])
    expectError(x.sf_encode(250, 7, 64, table), 1, [250, 7])
    expectError(x.sf_encode(3, 2, 0, table), 2, [])
    expectError(x.sf_encode(3, 2, 64, 0), 6, [5]) // the pointer table itself
    expectError(x.sf_encode(3, 2, 64, 0x7fff_fff0), 6, [5])
    expectError(x.sf_encode(3, 2, 65, table), 6, [4]) // last shard runs past its allocation
    const t = new Uint32Array(x.memory.buffer, table, 5)
    t[3] = block // parity 0 aliases data 0
    expectError(x.sf_encode(3, 2, 64, table), 7, [0, 3])
    t[3] = block + 3 * 64
    expectError(x.sf_reconstruct(3, 2, 64, table, 0xffff_fff0, 0), 6, [6]) // the present flags
    const flags = x.sf_alloc(5)
    new Uint8Array(x.memory.buffer, flags, 5).set([0, 0, 0, 1, 1])
    expectError(x.sf_reconstruct(3, 2, 64, table, flags, 0), 5, [3, 2])
    expectError(x.sf_free(block + 1, 320), 6, [0])
    expect(x.sf_encode(3, 2, 64, table)).toBe(0)
  })

  it('survives 5000 random calls and still encodes correctly afterwards', () => {
    const next = rng(2024)
    const { table } = shards(4, 2, 1000)
    const canary = x.sf_alloc(4096)
    new Uint8Array(x.memory.buffer, canary, 4096).fill(0xa5)
    const memBytes = (): number => x.memory.buffer.byteLength
    const pick = (): number => {
      switch (next() % 6) {
        case 0: return 0
        case 1: return next() // anything at all
        case 2: return next() % memBytes() // inside memory, likely not an allocation
        case 3: return table + (next() % 64) - 32 // near a real one
        case 4: return 0xffff_ffff
        default: return next() % 300
      }
    }
    for (let i = 0; i < 5000; i++) {
      const args = [pick(), pick(), pick(), pick(), pick(), pick()]
      const f = i % 4
      // A trap would throw a WebAssembly.RuntimeError and fail the test right here.
      const rc = f === 0
        ? x.sf_encode(args[0]!, args[1]!, args[2]!, args[3]!)
        : f === 1
          ? x.sf_reconstruct(args[0]!, args[1]!, args[2]!, args[3]!, args[4]!, args[5]!)
          : f === 2 ? x.sf_verify(args[0]!, args[1]!, args[2]!, args[3]!) : x.sf_free(args[0]!, args[1]!)
      expect(rc).toBeLessThanOrEqual(1)
    }
    expect(new Uint8Array(x.memory.buffer, canary, 4096).every(b => b === 0xa5)).toBe(true)
    const g = GOLDEN[0]!
    const s = shards(g.k, g.m, g.len)
    new Uint8Array(x.memory.buffer, s.block, g.k * g.len).set(seededBytes(g.seed, g.k * g.len))
    expect(x.sf_encode(g.k, g.m, g.len, s.table)).toBe(0)
    expect(sha256(new Uint8Array(x.memory.buffer, s.block + g.k * g.len, g.m * g.len))).toBe(g.parity)
  })
})

function popcount (x: number): number {
  let c = 0
  for (; x !== 0; x &= x - 1) c++
  return c
}
