import { createHash } from 'node:crypto'
import { describe, it, expect, afterEach } from 'vitest'
import { CodecPool } from './pool.ts'
import { createNodeCodecPool, spawnNodeWorker, type NodeWorkerHandle } from './pool.node.ts'
import { GOLDEN, seededBytes } from './testing/vectors.ts'
import { loadOracle, oracleParity } from './testing/oracle.node.ts'

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')
const oracle = loadOracle()
const pools: CodecPool[] = []
afterEach(() => { for (const p of pools.splice(0)) p.terminate() })

/** A pool of real worker threads whose handles the test can reach, to kill one mid-job. */
function trackedPool (size: number): { pool: CodecPool, handles: NodeWorkerHandle[] } {
  const handles: NodeWorkerHandle[] = []
  const pool = new CodecPool({ size, spawn: () => { const h = spawnNodeWorker('auto'); handles.push(h); return h } })
  pools.push(pool)
  return { pool, handles }
}

describe('codec worker pool (worker_threads)', () => {
  it('starts lazily, encodes golden vectors in a worker, and hands buffers over by transfer', async () => {
    const pool = createNodeCodecPool({ size: 2 })
    pools.push(pool)
    expect(pool.workers).toBe(0)
    expect(await pool.variant()).toBe('relaxed')
    for (const g of GOLDEN) {
      const input = seededBytes(g.seed, g.k * g.len)
      const { data, parity } = await pool.encode(g.k, g.m, input)
      expect(input.byteLength, 'input was transferred, not copied').toBe(0)
      expect(sha256(parity)).toBe(g.parity)
      expect(Buffer.compare(data, seededBytes(g.seed, g.k * g.len))).toBe(0)
    }
    expect(pool.workers).toBe(1)
  })

  it('warm() starts one worker ahead of the first job, which then runs on it; a no-op once terminated', async () => {
    const { pool, handles } = trackedPool(1)
    pool.warm()
    pool.warm()
    expect(handles).toHaveLength(1)
    expect(pool.workers).toBe(1)
    const g = GOLDEN[0]!
    const { parity } = await pool.encode(g.k, g.m, seededBytes(g.seed, g.k * g.len))
    expect(sha256(parity)).toBe(g.parity)
    expect(handles).toHaveLength(1)
    pool.terminate()
    pool.warm()
    expect(handles).toHaveLength(1)
  })

  it('encodes in place: parity written after the data in the one buffer handed over', async () => {
    const pool = createNodeCodecPool({ size: 1 })
    pools.push(pool)
    for (const g of GOLDEN) {
      const input = new Uint8Array((g.k + g.m) * g.len).fill(0xee) // stale bytes where the parity goes
      input.set(seededBytes(g.seed, g.k * g.len))
      const shards = await pool.encodeShards(g.k, g.m, input)
      expect(input.byteLength, 'input was transferred, not copied').toBe(0)
      expect(shards.length).toBe((g.k + g.m) * g.len)
      expect(Buffer.compare(shards.subarray(0, g.k * g.len), seededBytes(g.seed, g.k * g.len))).toBe(0)
      expect(sha256(shards.subarray(g.k * g.len))).toBe(g.parity)
    }
    await expect(pool.encodeShards(4, 2, new Uint8Array(7))).rejects.toThrow(RangeError)
  })

  it('runs parallel jobs on several workers, each result correct', async () => {
    const pool = createNodeCodecPool({ size: 2 })
    pools.push(pool)
    const jobs = Array.from({ length: 8 }, (_, i) => {
      const data = seededBytes(i + 1, 10 * 65536)
      const want = oracleParity(oracle, 10, 4, data)
      return pool.encode(10, 4, data).then(r => Buffer.compare(r.parity, want))
    })
    expect(pool.queued).toBeGreaterThan(0)
    expect(await Promise.all(jobs)).toEqual(new Array(8).fill(0))
    expect(pool.workers).toBe(2)
  })

  it('reconstructs and verifies through the pool', async () => {
    const pool = createNodeCodecPool({ size: 1 })
    pools.push(pool)
    const k = 4; const m = 2; const len = 10_000
    const { data, parity } = await pool.encode(k, m, seededBytes(3, k * len))
    const all = new Uint8Array((k + m) * len)
    all.set(data); all.set(parity, k * len)
    const original = all.slice()
    expect((await pool.verify(k, m, all.slice())).valid).toBe(true)
    all.fill(0, 0, len); all.fill(0, 5 * len)
    const rebuilt = await pool.reconstruct(k, m, all, [false, true, true, true, true, false])
    expect(Buffer.compare(rebuilt, original)).toBe(0)
    const broken = original.slice(); broken[len + 5]! ^= 1
    expect((await pool.verify(k, m, broken)).valid).toBe(false)
    await expect(pool.reconstruct(k, m, original.slice(), [false, false, false, true, true, true]))
      .rejects.toMatchObject({ name: 'NotEnoughShardsError' })
  })

  it('aborting a queued job and a running job rejects them; the pool goes on working', async () => {
    const { pool, handles } = trackedPool(1)
    const running = new AbortController()
    const queued = new AbortController()
    const big = pool.encode(32, 8, seededBytes(1, 32 * (1 << 20)), { signal: running.signal })
    const waiting = pool.encode(4, 2, seededBytes(2, 4 * 1000), { signal: queued.signal })
    queued.abort()
    await expect(waiting).rejects.toMatchObject({ name: 'AbortError' })
    await new Promise(resolve => setTimeout(resolve, 50))
    running.abort()
    await expect(big).rejects.toMatchObject({ name: 'AbortError' })
    const g = GOLDEN[1]!
    const { parity } = await pool.encode(g.k, g.m, seededBytes(g.seed, g.k * g.len))
    expect(sha256(parity)).toBe(g.parity)
    expect(handles.length, 'the aborted job’s worker was replaced').toBe(2)
    await expect(pool.encode(4, 2, new Uint8Array(12), { signal: AbortSignal.abort() })).rejects.toMatchObject({ name: 'AbortError' })
  })

  it('a worker that dies mid-job fails that job with WorkerCrashedError and is replaced', async () => {
    const { pool, handles } = trackedPool(1)
    await pool.variant() // worker up and its module loaded
    const job = pool.encode(32, 8, seededBytes(1, 32 * (1 << 20)))
    await new Promise(resolve => setTimeout(resolve, 20))
    // Kill the thread from outside the pool, as a crash or an OOM kill would.
    void handles[0]!.thread.terminate()
    await expect(job).rejects.toMatchObject({ name: 'WorkerCrashedError', code: 'WORKER_CRASHED' })
    const g = GOLDEN[0]!
    const { parity } = await pool.encode(g.k, g.m, seededBytes(g.seed, g.k * g.len))
    expect(sha256(parity)).toBe(g.parity)
    expect(handles.length).toBe(2)
  })
})
