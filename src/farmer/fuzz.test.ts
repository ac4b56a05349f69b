/**
 * Protocol fuzz: thousands of random, truncated, oversized and lying frames on raw streams against
 * a live farmer. It must answer every request that it can read with a typed refusal (never drop a
 * connection it could answer), store only the valid fragments mixed in, and keep serving afterwards.
 */
import type { Libp2p } from '@libp2p/interface'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { sha256Hex } from '../core/hash.ts'
import { generateOwnerKey, toBase64 } from '../core/owner-key.ts'
import { WIRE_CODES } from '../net/protocols/fragment-errors.ts'
import { encodeFrame } from '../net/protocols/frames.ts'
import { MemoryFragmentStore } from '../stores/memory.ts'
import { randomFragment, rawCall, sameBytes, startTestClient, startTestFarmer } from '../../test/support/test-grid.ts'
import type { RawOutcome, TestClient, TestFarmer } from '../../test/support/test-grid.ts'

const CASES = 3000
const BUDGET_MS = 30_000
// Below yamux's maxEarlyStreams (10): more streams than that on a connection still being set up
// make libp2p abort the whole connection.
const PARALLEL = 8

// A small seeded PRNG (mulberry32), so a failing run can be replayed from its printed seed.
function prng (seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

let farmer: TestFarmer
let node: Libp2p
let client: TestClient['client']
const store = new MemoryFragmentStore({ quota: 64 * 1024 * 1024 })

beforeAll(async () => {
  farmer = await startTestFarmer(store, { idleTimeoutMs: 300 })
  ;({ node, client } = await startTestClient({ timeoutMs: 10_000 }))
})
afterAll(async () => {
  await node.stop()
  await farmer.stop()
})

it(`survives ${CASES} hostile frames and keeps serving`, async () => {
  const seed = Date.now() >>> 0
  const rnd = prng(seed)
  const int = (n: number): number => Math.floor(rnd() * n)
  const bytes = (n: number): Uint8Array => Uint8Array.from({ length: n }, () => int(256))
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)] as T
  const prefix = (n: number): Uint8Array => { const b = new Uint8Array(4); new DataView(b.buffer).setUint32(0, n >>> 0); return b }
  const json = (v: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(v))
  const frame = (v: unknown): Uint8Array => { const j = json(v); return new Uint8Array([...prefix(j.length), ...j]) }
  const owner = (await generateOwnerKey()).publicKey
  const junk = (): unknown => pick([null, -1, 0, 1.5, 2 ** 53, 'x', 'a'.repeat(64), 'A'.repeat(64), [], {}, true, owner, 1e308])
  const fields = ['op', 'id', 'size', 'owner', 'count', 'ts', 'nonce', 'sig']
  const goodId = 'ab'.repeat(32)
  const valid = new Map<string, Uint8Array>()

  // Each generator returns the chunks to send and whether a typed answer is owed.
  const generators: Array<() => Promise<{ chunks: Uint8Array[], abort?: boolean }>> = [
    async () => ({ chunks: [bytes(1 + int(64))] }), // pure noise
    async () => ({ chunks: [prefix(pick([0xffffffff, 0x7fffffff, 16385, 1 << 24, 65536])), bytes(int(32))] }), // huge prefix
    async () => ({ chunks: [prefix(int(16384) + 1), bytes(int(200))] }), // prefix lies about a short header
    async () => ({ chunks: [prefix(5), new Uint8Array([0xff, 0xfe, 0x80, 0x81, 0x00])] }), // not UTF-8
    async () => ({ chunks: [frame(pick([[], null, 42, 'PUT', [{ op: 'STAT' }]]))] }), // JSON but not an object
    async () => { // a header with random fields set to random junk
      const h: Record<string, unknown> = { op: pick(['PUT', 'GET', 'HAS', 'DELETE', 'STAT', 'put', 'NOPE', junk()]) }
      for (const f of fields) if (rnd() < 0.5) h[f] = junk()
      return { chunks: [frame(h), bytes(int(100))] }
    },
    async () => ({ chunks: [frame({ op: 'PUT', id: goodId, size: 16 * 1024 * 1024 + 1 + int(1e9) })] }), // declared too large
    async () => { // PUT whose body is shorter, longer, or not matching its id
      const size = 1 + int(5000)
      const body = bytes(size + pick([-1, 0, 1, 100]))
      return { chunks: [frame({ op: 'PUT', id: await sha256Hex(bytes(size)), size }), body.subarray(0, Math.max(0, body.length))] }
    },
    async () => { // a valid frame cut anywhere
      const f = frame({ op: 'PUT', id: goodId, size: 1000, owner })
      return { chunks: [f.subarray(0, int(f.length))] }
    },
    async () => ({ chunks: [frame({ op: 'HAS', count: 1 + int(3000) }), bytes(int(64 * 32))] }), // HAS with the wrong body
    async () => ({ chunks: [frame({ op: 'STAT' }), bytes(1 + int(10))] }), // trailing bytes
    async () => ({ chunks: [frame({ op: 'DELETE', id: goodId, ts: Date.now(), nonce: toBase64(bytes(16)), sig: toBase64(bytes(64)) })] }),
    async () => { // deep nesting and a huge header just under/over the limit
      const n = pick([16384 - 2, 16384 + 10])
      return { chunks: [prefix(n), json('x'.repeat(n - 2))] }
    },
    async () => ({ chunks: [frame({ op: 'PUT', id: goodId, size: 100 }), bytes(10)], abort: true }), // reset mid-body
    async () => { // one byte at a time
      const f = frame({ op: pick(['STAT', 'GET']), id: goodId })
      return { chunks: Array.from(f, b => new Uint8Array([b])) }
    },
    async () => { // a valid put, now and then, to prove the farmer still stores good data among the noise
      const f = await randomFragment(1 + int(4000))
      valid.set(f.id, f.bytes)
      return { chunks: [encodeFrame({ op: 'PUT', id: f.id, size: f.bytes.length, owner, nonce: toBase64(bytes(16)) }), f.bytes] }
    }
  ]

  await client.stat(farmer.addr) // open the connection before the parallel storm
  const codes = new Map<string, number>()
  let answered = 0
  let done = 0
  const started = Date.now()
  const runOne = async (): Promise<void> => {
    const { chunks, abort } = await pick(generators)()
    const out: RawOutcome = await rawCall(node, farmer.addr, chunks, { abort, timeoutMs: 5000 })
    done++
    if (abort === true) return
    // Every request the farmer could read gets exactly one well-formed answer frame.
    if (out.header === undefined) {
      const key = `no answer: ${out.error ?? 'eof'}`
      codes.set(key, (codes.get(key) ?? 0) + 1)
      return
    }
    answered++
    const h = out.header!
    const key = h.ok === true ? 'ok' : String(h.code)
    codes.set(key, (codes.get(key) ?? 0) + 1)
    if (h.ok !== true) expect(WIRE_CODES, `seed ${seed}`).toContain(h.code)
  }
  while (done < CASES && Date.now() - started < BUDGET_MS) {
    await Promise.all(Array.from({ length: PARALLEL }, runOne))
  }
  console.log(`fuzz seed ${seed}: ${done} cases in ${Date.now() - started} ms, answers by code`, Object.fromEntries(codes))
  expect(done).toBeGreaterThanOrEqual(1000)
  // Resets are only for the cases that reset their own stream: every other one got its answer.
  expect([...codes.keys()].filter(k => k.startsWith('no answer'))).toEqual([])
  expect(answered).toBeGreaterThan(done * 0.9)

  // Nothing but the valid puts was stored, and they are intact.
  const stat = await store.stat()
  expect(stat.count).toBe(valid.size)
  for (const [id, b] of valid) expect(sameBytes(await store.get(id), b)).toBe(true)
  // The farmer still serves a well-behaved client.
  const f = await randomFragment(100_000)
  await client.put(farmer.addr, f.id, f.bytes, { owner: { publicKey: owner } })
  expect(sameBytes(await client.get(farmer.addr, f.id), f.bytes)).toBe(true)
  expect((await client.stat(farmer.addr)).count).toBe(valid.size + 1)
  await expect.poll(() => farmer.service.metrics.snapshot().activeStreams, { timeout: 5000 }).toBe(0)
}, 90_000)
