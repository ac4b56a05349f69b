import { randomBytes } from 'node:crypto'
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { parseCapability } from '../../core/capability.ts'
import { MemoryFragmentStore } from '../../stores/memory.ts'
import { createNodeCodecPool } from '../../codec/pool.node.ts'
import type { CodecPool } from '../../codec/pool.ts'
import { FakeGrid, getFile, putFile, sha, source } from '../../../test/support/fake-grid.ts'
import { UploadJob, type UploadProgress } from './upload.ts'
import { Download } from './download.ts'
import { fileHealth } from './stat.ts'
import { KvJobStore, type JobStore } from '../job-store.ts'
import { MemoryKeyValueStore } from '../../stores/kv/memory.ts'
import { jobIdOf, memoryJobs } from '../../../test/support/fake-grid.ts'
import { TEST_POLICY } from '../../../test/support/test-policy.ts'
import type { ByteSource, ErasureCoder, FragmentTransport } from '../ports.ts'

const SHARD = 4096
let pool: CodecPool
beforeAll(() => { pool = createNodeCodecPool({ size: 1 }) })
afterAll(() => pool.terminate())
const makeGrid = (n: number, regions?: string[]): FakeGrid => FakeGrid.make(n, pool, regions)

describe('upload job: streaming put', () => {
  const segPlain = 4 * SHARD - 16 // test policy: k = 4

  /** The segments a job recorded as sent, by index: their digest and manifest entry. */
  const sentOf = async (store: JobStore, sourceKey: string): Promise<Record<number, { digest: string, entry: { fragments: string[], holders: string[][] } }>> =>
    Object.fromEntries((await store.segments(jobIdOf(sourceKey))).flatMap((r, s) => r?.holders === undefined ? [] : [[s, { digest: r.digest, entry: { ...r, holders: r.holders } }]]))

  /** Runs an upload job in `store` and stops it (AbortError) once `segments` segments are stored. */
  const interruptedUpload = async (grid: FakeGrid, bytes: Uint8Array, store: JobStore, sourceKey: string, segments: number): Promise<void> => {
    const ctl = new AbortController()
    const job = await UploadJob.open(store, { id: jobIdOf(sourceKey), sourceKey, size: bytes.length, shardSize: SHARD, policy: TEST_POLICY })
    job.addEventListener('progress', e => { if ((e as CustomEvent<UploadProgress>).detail.stored >= segments * segPlain) ctl.abort() })
    await expect(job.run(grid.ports(), source(bytes), { signal: ctl.signal, concurrency: 1 })).rejects.toMatchObject({ name: 'AbortError' })
    expect((await store.getJob(jobIdOf(sourceKey)))?.state).toBe('cancelled')
  }

  for (const size of [0, 1, segPlain, segPlain + 1, 3 * segPlain + 777]) {
    it(`round-trips ${size} bytes byte-identically`, async () => {
      const grid = makeGrid(6)
      const bytes = randomBytes(size)
      const up = await putFile(grid.ports(), source(bytes), { shardSize: SHARD, name: 'f.bin' })
      expect(up.manifest.segments.length).toBe(Math.max(1, Math.ceil(size / segPlain)))
      expect(sha(await getFile(grid.ports(), up.link))).toBe(sha(bytes))
    })
  }

  it('farmers hold only ciphertext', async () => {
    const grid = makeGrid(6)
    const text = Buffer.from('the secret plans '.repeat(2000))
    const up = await putFile(grid.ports(), source(text), { shardSize: SHARD })
    let checked = 0
    for (const seg of up.manifest.segments) {
      for (const [i, id] of seg.fragments.entries()) {
        const bytes = Buffer.from(await grid.stores.get(seg.holders[i]![0]!)!.get(id))
        expect(bytes.includes('secret')).toBe(false)
        checked++
      }
    }
    expect(checked).toBe(up.manifest.segments.length * 6)
  })

  it('a farmer failing during the put has its fragments moved to another farmer', async () => {
    const grid = makeGrid(8)
    const bytes = randomBytes(4 * segPlain)
    grid.down.add(grid.farmers[2]!.peerId)
    const ports = grid.ports()
    ports.directory.list = async () => grid.farmers // the directory still lists the dead farmer
    const up = await putFile(ports, source(bytes), { shardSize: SHARD })
    expect(up.manifest.segments.flatMap(s => s.holders.flat())).not.toContain(grid.farmers[2]!.peerId)
    expect(sha(await getFile(grid.ports(), up.link))).toBe(sha(bytes))
  })

  it('an interrupted upload resumes from its journal without re-sending stored segments', async () => {
    const grid = makeGrid(6)
    const bytes = randomBytes(6 * segPlain)
    const journal = memoryJobs()
    await interruptedUpload(grid, bytes, journal, 'f:1', 3)
    expect(Object.keys((await sentOf(journal, 'f:1'))).length).toBeGreaterThanOrEqual(3)
    const full = 6 * 6 * SHARD
    const second = await putFile(grid.ports(), source(bytes), { shardSize: SHARD, store: journal, sourceKey: 'f:1' })
    expect(second.sentBytes).toBeLessThanOrEqual(full / 2)
    expect((await journal.getJob(jobIdOf('f:1')))?.state).toBe('published')
    expect(sha(await getFile(grid.ports(), second.link))).toBe(sha(bytes))
  })

  it('a resumed upload stores again the finished segments whose holders lost fragments meanwhile', async () => {
    const grid = makeGrid(8)
    const bytes = randomBytes(6 * segPlain)
    const journal = memoryJobs()
    await interruptedUpload(grid, bytes, journal, 'f:2', 3)
    const finished = Object.values((await sentOf(journal, 'f:2'))).map(d => d.entry)
    expect(finished.length).toBeGreaterThanOrEqual(3)
    // While the upload waited, the holder of segment 0's first fragment restarted with an empty
    // disk, and the holder of segment 1's last fragment left the grid.
    const emptied = finished[0]!.holders[0]![0]!
    grid.stores.set(emptied, new MemoryFragmentStore({ quota: 1e9 }))
    const left = finished[1]!.holders[5]![0]!
    grid.down.add(left)

    const second = await putFile(grid.ports(), source(bytes), { shardSize: SHARD, store: journal, sourceKey: 'f:2' })
    expect(second.restoredSegments).toBeGreaterThanOrEqual(2)
    const health = await fileHealth(grid.ports(), parseCapability(second.link))
    expect(health.segments.map(s => s.status)).toEqual(health.segments.map(() => 'healthy'))
    expect(second.manifest.segments.flatMap(s => s.holders.flat())).not.toContain(left)
    // Only the lost fragments went again, not their segments' others.
    const lost = finished.flatMap(e => e.holders.flat()).filter(h => h === emptied || h === left).length
    expect(lost).toBeGreaterThanOrEqual(2)
    expect(second.sentBytes).toBeLessThanOrEqual(((6 - finished.length) * 6 + lost) * SHARD)
    expect(sha(await getFile(grid.ports(), second.link))).toBe(sha(bytes))
  })

  it('a resumed upload refuses a file that changed under the same size and date, and drops its journal', async () => {
    const grid = makeGrid(7)
    const bytes = randomBytes(6 * segPlain)
    const journal = memoryJobs()
    await interruptedUpload(grid, bytes, journal, 'f:3', 3)
    // Segment 0 lost a fragment, so it is sealed again: from bytes that are not the ones stored.
    grid.stores.set((await sentOf(journal, 'f:3'))[0]!.entry.holders[0]![0]!, new MemoryFragmentStore({ quota: 1e9 }))
    const changed = Buffer.from(bytes)
    changed[10] = changed[10]! ^ 0xff
    await expect(putFile(grid.ports(), source(changed), { shardSize: SHARD, store: journal, sourceKey: 'f:3' }))
      .rejects.toMatchObject({ name: 'SourceChangedError', code: 'SOURCE_CHANGED', details: { segment: 0 } })
    expect(await journal.getJob(jobIdOf('f:3'))).toBeUndefined()
    const fresh = await putFile(grid.ports(), source(changed), { shardSize: SHARD, store: journal, sourceKey: 'f:3' })
    expect(sha(await getFile(grid.ports(), fresh.link))).toBe(sha(changed))
  })

  it('a resume interrupted again still knows which holders kept which fragments', async () => {
    const grid = makeGrid(8)
    const bytes = randomBytes(4 * segPlain)
    const journal = memoryJobs()
    await interruptedUpload(grid, bytes, journal, 'f:4', 2)
    const before = structuredClone((await sentOf(journal, 'f:4')))
    // Every farmer is unreachable while the next attempt checks: nothing is confirmed, nothing stored.
    for (const f of grid.farmers) grid.down.add(f.peerId)
    const ports = { ...grid.ports(), directory: { list: async () => grid.farmers } }
    await expect(putFile(ports, source(bytes), { shardSize: SHARD, store: journal, sourceKey: 'f:4' })).rejects.toThrow()
    expect((await sentOf(journal, 'f:4'))).toEqual(before) // the journal forgot nothing
    grid.down.clear()
    const third = await putFile(grid.ports(), source(bytes), { shardSize: SHARD, store: journal, sourceKey: 'f:4' })
    expect(third.restoredSegments).toBe(0)
    expect(third.sentBytes).toBeLessThanOrEqual((4 - Object.keys(before).length) * 6 * SHARD)
    expect(sha(await getFile(grid.ports(), third.link))).toBe(sha(bytes))
  })

  it('frees each segment as soon as the pipeline is done with it, and still round-trips', async () => {
    const grid = makeGrid(6)
    const shard = 64 * 1024 // segment buffers above RELEASE_MIN_BYTES
    const bytes = randomBytes(3 * (4 * shard - 16))
    const encoded: Uint8Array[] = []
    const coder: ErasureCoder = {
      encodeShards: async (...a) => { const r = await pool.encodeShards(...a); encoded.push(r); return r },
      reconstruct: async (...a) => await pool.reconstruct(...a)
    }
    const reads: Uint8Array[] = []
    const src: ByteSource = { size: bytes.length, fresh: true, read: async (o, l) => { const b = new Uint8Array(bytes.subarray(o, o + l)); reads.push(b); return b } }
    const up = await putFile({ ...grid.ports(), coder }, src, { shardSize: shard })
    expect(encoded).toHaveLength(3)
    expect(encoded.every(b => b.buffer.byteLength === 0)).toBe(true) // segment buffers: freed when the upload ends
    expect(reads.every(b => b.buffer.byteLength === 0)).toBe(true) // plaintext: freed once encrypted
    expect(bytes.length).toBe(3 * (4 * shard - 16)) // a source that is not `fresh` keeps its buffer

    const given: Uint8Array[] = []
    const copies: Uint8Array[] = []
    await new Download(grid.ports(), parseCapability(up.link), { releaseChunks: true }).run(c => { given.push(c); copies.push(c.slice()) })
    expect(sha(Buffer.concat(copies))).toBe(sha(bytes))
    expect(given.every(c => c.length === 0)).toBe(true) // each chunk freed after the sink took it
  })

  it('prepares one segment at a time while several are being stored', async () => {
    const grid = makeGrid(6)
    const bytes = randomBytes(8 * (4 * SHARD - 16) + 5) // 9 segments
    let preparing = 0
    let maxPreparing = 0
    const src: ByteSource = {
      size: bytes.length,
      read: async (o, l) => {
        preparing++
        maxPreparing = Math.max(maxPreparing, preparing)
        await new Promise(resolve => setTimeout(resolve, 5)) // a read that takes a moment
        return bytes.slice(o, o + l)
      }
    }
    // A segment's fragments are views of one buffer: more than one buffer with PUTs in flight means
    // more than one segment is being stored.
    const storing = new Map<ArrayBufferLike, number>()
    let maxStoring = 0
    const coder: ErasureCoder = {
      encodeShards: async (...a) => {
        const r = await pool.encodeShards(...a)
        preparing--
        return r
      },
      reconstruct: async (...a) => await pool.reconstruct(...a)
    }
    const transport: FragmentTransport = Object.create(grid) as FakeGrid
    transport.put = async (f, id, b, o) => {
      storing.set(b.buffer, (storing.get(b.buffer) ?? 0) + 1)
      maxStoring = Math.max(maxStoring, storing.size)
      await new Promise(resolve => setTimeout(resolve, 20)) // farmers slower than preparing
      await grid.put(f, id, b, o)
      const n = storing.get(b.buffer)! - 1
      if (n === 0) storing.delete(b.buffer); else storing.set(b.buffer, n)
    }
    const up = await putFile({ ...grid.ports(), transport, coder }, src, { shardSize: SHARD, concurrency: 4 })
    expect(maxPreparing).toBe(1) // never two segments swollen (plaintext + ciphertext + parity) at once
    expect(maxStoring).toBeGreaterThan(1) // yet the PUTs of several segments overlap
    expect(sha(await getFile(grid.ports(), up.link))).toBe(sha(bytes))
  })

  it('reads every segment into one plaintext buffer when the source offers readInto', async () => {
    const grid = makeGrid(6)
    const bytes = randomBytes(5 * (4 * SHARD - 16) + 99) // 6 segments, the last one short
    const targets: Uint8Array[] = []
    let reads = 0
    const src: ByteSource = {
      size: bytes.length,
      fresh: true,
      read: async (o, l) => { reads++; return bytes.slice(o, o + l) },
      readInto: async (o, t) => { targets.push(t); t.set(bytes.subarray(o, o + t.length)) }
    }
    const up = await putFile(grid.ports(), src, { shardSize: SHARD, concurrency: 4 })
    expect(reads).toBe(0)
    expect(targets).toHaveLength(6)
    expect(new Set(targets.map(t => t.buffer)).size).toBe(1) // one buffer, reused
    expect(targets[0]!.buffer.byteLength).toBe(4 * SHARD - 16) // and never freed while in use
    expect(sha(await getFile(grid.ports(), up.link))).toBe(sha(bytes))
  })

  it('seals segments into recycled shard buffers, zero-padding a short last segment', async () => {
    const grid = makeGrid(6)
    const shard = 16 * 1024 // segment buffers (6 shards) above RELEASE_MIN_BYTES
    const full = 4 * shard - 16 // plaintext of a segment whose ciphertext is exactly 4 shards
    const bytes = randomBytes(6 * full + full - 3) // 7 segments; the last one's ciphertext is 3 bytes short of 4 shards
    const seen = new Set<ArrayBufferLike>()
    let last: Uint8Array | undefined
    const coder: ErasureCoder = {
      // Encodes a copy through the pool and writes the result back, so the buffer keeps its identity.
      encodeShards: async (k, m, shards, o) => {
        seen.add(shards.buffer)
        last = shards.slice()
        shards.set(await pool.encodeShards(k, m, shards.slice(), o))
        return shards
      },
      reconstruct: async (...a) => await pool.reconstruct(...a)
    }
    const up = await putFile({ ...grid.ports(), coder }, source(bytes), { shardSize: shard, concurrency: 1 })
    expect(seen.size).toBe(1) // seven segments, one after another, all sealed into one buffer
    expect([...seen].every(b => b.byteLength === 0)).toBe(true) // all freed when the upload ends
    expect([...last!.subarray(4 * shard - 3, 4 * shard)]).toEqual([0, 0, 0]) // no bytes of an earlier segment
    expect(sha(await getFile(grid.ports(), up.link))).toBe(sha(bytes))
  })

  it('a put stopped while publishing and resumed after a farmer moved never seals two manifests under one key and nonce', async () => {
    const grid = makeGrid(6)
    const bytes = randomBytes(2 * segPlain)
    const store = memoryJobs()
    const id = jobIdOf('f:9')
    const manifests: Uint8Array[] = [] // every sealed manifest sent, in order
    const ctl = new AbortController()
    /** Once both segments are recorded, every PUT is of a copy of the manifest. */
    const watching = (stop: boolean): FragmentTransport => ({
      get: grid.get.bind(grid), has: grid.has.bind(grid), delete: grid.delete.bind(grid), renew: grid.renew.bind(grid),
      put: async (f, fid, b, o) => {
        if ((await store.segments(id)).filter(r => r?.holders !== undefined).length === 2) {
          manifests.push(b.slice())
          // Stopped once the first copy is stored: that copy stays on its farmer.
          if (stop && manifests.length > 1) { ctl.abort(); throw new Error('stopped') }
        }
        await grid.put(f, fid, b, o)
      }
    })
    await expect(putFile({ ...grid.ports(), transport: watching(true) }, source(bytes), { shardSize: SHARD, store, sourceKey: 'f:9', signal: ctl.signal }))
      .rejects.toThrow()
    expect(manifests).toHaveLength(2) // one copy stored, the second refused
    const { sha256Hex } = await import('../../core/hash.ts')
    const stray = await sha256Hex(manifests[0]!)
    expect(await Promise.all(grid.farmers.map(async f => (await grid.stores.get(f.peerId)!.has([stray]))[0]))).toContain(true)
    // Meanwhile a farmer moved: the directory gives another address, so the manifest reads differently.
    const moved = grid.farmers[0]!
    moved.addrs = [`/ip4/10.9.8.7/tcp/4001/ws/p2p/${moved.peerId}`]
    const up = await putFile({ ...grid.ports(), transport: watching(false) }, source(bytes), { shardSize: SHARD, store, sourceKey: 'f:9' })
    expect(up.manifest.farmers[moved.peerId]).toEqual(moved.addrs)
    expect(manifests.length).toBeGreaterThanOrEqual(2)
    // Two AES-GCM ciphertexts under one key and nonce equal each other wherever their plaintexts do
    // (here almost everywhere); under fresh nonces they agree on about 1 byte in 256.
    const [a, b] = [manifests[0]!, manifests.at(-1)!]
    let same = 0
    for (let i = 16; i < Math.min(a.length, b.length); i++) if (a[i] === b[i]) same++
    expect(same / (Math.min(a.length, b.length) - 16)).toBeLessThan(0.05)
    expect(sha(await getFile(grid.ports(), up.link))).toBe(sha(bytes))
    // The copy the stopped publish stored names no link: it is removed, with the owner's key.
    expect(stray).not.toBe(up.capability.manifestId)
    for (const f of grid.farmers) expect(await grid.stores.get(f.peerId)!.has([stray])).toEqual([false])
    expect(up.strayCopies).toEqual([])
    expect((await store.getJob(id))?.unpublished).toBeUndefined()
  })

  it('refuses a policy the grid cannot satisfy, with the reason', async () => {
    await expect(putFile(makeGrid(6).ports(), source(randomBytes(10)), { shardSize: SHARD, policy: { name: 'wide', k: 10, m: 4 } })).rejects.toThrow(/needs 14 farmers \(10 \+ 4\), the grid has 6/)
  })
})

describe('upload job: offline outbox', () => {
  const segPlain = 4 * SHARD - 16 // test policy: k = 4

  /** An outbox in memory, and how many fragments it keeps. */
  const memoryOutbox = (): { outbox: JobStore, kept: () => Promise<number> } => {
    const kv = new MemoryKeyValueStore()
    return { outbox: new KvJobStore(kv), kept: async () => (await kv.keys(['jobs'])).filter(k => k[2] === 'frag').length }
  }

  /** Seals `bytes` into `outbox` with no grid at all. */
  const sealOffline = async (outbox: JobStore, bytes: Uint8Array, name: string): Promise<UploadJob> => {
    const job = await UploadJob.open(outbox, { size: bytes.length, shardSize: SHARD, name, policy: TEST_POLICY })
    await job.seal({ coder: pool }, source(bytes))
    return job
  }

  it('seals with no grid at all, then drains (resuming after a failed attempt) into a downloadable file', async () => {
    const { outbox, kept } = memoryOutbox()
    const bytes = randomBytes(3 * segPlain + 5)
    const job = await sealOffline(outbox, bytes, 'offline.bin')
    expect(job.state).toBe('queued')
    expect(await kept()).toBe(4 * 6)
    const grid = makeGrid(6)
    // First drain: every farmer is down, so it fails and the job stays queued with its fragments.
    for (const f of grid.farmers) grid.down.add(f.peerId)
    const ports = { ...grid.ports(), directory: { list: async () => grid.farmers } }
    await expect((await UploadJob.load(outbox, job.id))!.send(ports)).rejects.toMatchObject({ name: 'FragmentUndeliverableError' })
    expect(await kept()).toBe(24)
    expect(await outbox.getJob(job.id)).toMatchObject({ state: 'queued', lastError: { name: 'FragmentUndeliverableError' } })
    grid.down.clear()
    const r = await (await UploadJob.load(outbox, job.id))!.send(grid.ports())
    expect(await kept()).toBe(0)
    expect((await outbox.getJob(job.id))?.state).toBe('published')
    expect(sha(await getFile(grid.ports(), r.link))).toBe(sha(bytes))
  })

  it('a drain resumed later sends again the fragments that holders lost meanwhile, and only those', async () => {
    const { outbox } = memoryOutbox()
    const bytes = randomBytes(4 * segPlain)
    const job = await sealOffline(outbox, bytes, 'later.bin')
    const grid = makeGrid(7)
    const ctl = new AbortController()
    const first = (await UploadJob.load(outbox, job.id))!
    first.addEventListener('progress', e => { if ((e as CustomEvent<UploadProgress>).detail.stored >= 2 * segPlain) ctl.abort() })
    await expect(first.send(grid.ports(), { signal: ctl.signal })).rejects.toMatchObject({ name: 'AbortError' })
    const sentBefore = Object.fromEntries((await outbox.segments(job.id)).flatMap((r, s) => r?.holders === undefined ? [] : [[s, r.holders]]))
    expect(Object.keys(sentBefore).length).toBeGreaterThanOrEqual(2)
    const emptied = sentBefore[0]![2]![0]!
    grid.stores.set(emptied, new MemoryFragmentStore({ quota: 1e9 })) // restarted with an empty disk

    let puts = 0
    const ports = grid.ports()
    const counting = {
      ...ports,
      transport: {
        put: async (...a: Parameters<FakeGrid['put']>) => { puts++; await grid.put(...a) },
        get: grid.get.bind(grid), has: grid.has.bind(grid), delete: grid.delete.bind(grid), renew: grid.renew.bind(grid)
      }
    }
    const r = await (await UploadJob.load(outbox, job.id))!.send(counting)
    const lost = Object.values(sentBefore).flatMap(h => h.flat()).filter(h => h === emptied).length
    expect(lost).toBeGreaterThanOrEqual(1)
    expect(puts).toBeLessThanOrEqual((4 - Object.keys(sentBefore).length) * 6 + lost + r.capability.holders.length) // + the manifest's copies
    const health = await fileHealth(grid.ports(), parseCapability(r.link))
    expect(health.segments.map(s => s.status)).toEqual(['healthy', 'healthy', 'healthy', 'healthy'])
    expect(sha(await getFile(grid.ports(), r.link))).toBe(sha(bytes))
  })
})
