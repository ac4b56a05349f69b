// The upload and download pipelines over in-memory farmers (MemoryFragmentStore behind a fake
// transport) and the real worker-pool codec. The same pipelines run over real libp2p farmers in
// test/grid/ and the CLI tests; here the failure cases are cheap to set up exactly.
import { createHash, randomBytes } from 'node:crypto'
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { parseCapability } from '../core/capability.ts'
import { MemoryFragmentStore } from '../stores/memory.ts'
import { createNodeCodecPool } from '../codec/pool.node.ts'
import type { CodecPool } from '../codec/pool.ts'
import { Upload, type UploadOptions, type UploadProgress } from './upload.ts'
import { Download } from './download.ts'
import { deleteFile, fileHealth, repairFile } from './file-ops.ts'
import { ownerKeyFromSeed } from '../core/owner-key.ts'
import { nodeSegmentCipher } from './cipher.node.ts'
import { drainJob, sealToOutbox, type OutboxJob, type OutboxStore } from './outbox.ts'
import type { ByteSource, ErasureCoder, Farmer, FarmerRef, FragmentTransport, JournalState, UploadJournal } from './ports.ts'

const SHARD = 4096
let pool: CodecPool
beforeAll(() => { pool = createNodeCodecPool({ size: 1 }) })
afterAll(() => pool.terminate())

/** A grid of in-memory farmers; `down` ones fail every call, `gets` counts fragment fetches. */
class FakeGrid implements FragmentTransport {
  readonly stores = new Map<string, MemoryFragmentStore>()
  readonly down = new Set<string>()
  /** Farmers that answer GETs only after this many ms. */
  readonly slow = new Map<string, number>()
  gets = 0
  readonly farmers: Farmer[]
  constructor (farmers: Farmer[]) {
    this.farmers = farmers
    for (const f of farmers) this.stores.set(f.peerId, new MemoryFragmentStore({ quota: 1e9 }))
  }

  static make (n: number, regions = ['eu', 'us', 'ap']): FakeGrid {
    return new FakeGrid(Array.from({ length: n }, (_, i) => ({
      peerId: `12D3KooWFake${'ABCDEFGHJKLMNPQRSTUVWXYZ'[i]!.repeat(40)}`, addrs: [], region: regions[i % regions.length]!, tier: 'live', kind: 'full', free: 1e9
    })))
  }

  #store (f: FarmerRef): MemoryFragmentStore {
    if (this.down.has(f.peerId)) throw Object.assign(new Error('connection refused'), { code: 'UNREACHABLE' })
    return this.stores.get(f.peerId)!
  }

  async put (f: FarmerRef, id: string, bytes: Uint8Array, o?: { owner?: { publicKey: string } }): Promise<void> {
    await this.#store(f).put(id, bytes.slice(), o?.owner === undefined ? {} : { owner: o.owner.publicKey })
  }

  async get (f: FarmerRef, id: string, o?: { signal?: AbortSignal }): Promise<Uint8Array> {
    this.gets++
    const delay = this.slow.get(f.peerId)
    if (delay !== undefined) {
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(resolve, delay)
        o?.signal?.addEventListener('abort', () => { clearTimeout(t); reject(new Error('aborted')) }, { once: true })
      })
    }
    return await this.#store(f).get(id)
  }
  async has (f: FarmerRef, ids: string[]): Promise<boolean[]> { return await this.#store(f).has(ids) }
  async delete (f: FarmerRef, id: string): Promise<void> { await this.#store(f).delete(id) }
  ports () { return { transport: this, coder: pool, directory: { list: async () => this.farmers.filter(f => !this.down.has(f.peerId)) } } }
}

const source = (bytes: Uint8Array): ByteSource => ({ size: bytes.length, read: async (o, l) => bytes.slice(o, o + l) })
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

async function put (grid: FakeGrid, bytes: Uint8Array, opts: UploadOptions = {}) {
  return await new Upload(grid.ports(), source(bytes), { shardSize: SHARD, ...opts }).run()
}

async function get (grid: FakeGrid, link: string, range?: { start: number, end: number }): Promise<Uint8Array> {
  const chunks: Uint8Array[] = []
  await new Download(grid.ports(), parseCapability(link), range === undefined ? {} : { range }).run(c => { chunks.push(c.slice()) })
  return Buffer.concat(chunks)
}

describe('upload → download pipelines', () => {
  const segPlain = 4 * SHARD - 16 // live policy: k = 4

  /** A journal in memory; `state()` is what it holds (undefined once cleared). */
  const memoryJournal = (): UploadJournal & { state: () => JournalState | undefined } => {
    let saved: JournalState | undefined
    return {
      load: async () => saved === undefined ? undefined : structuredClone(saved),
      save: async s => { saved = structuredClone(s) },
      clear: async () => { saved = undefined },
      state: () => saved
    }
  }

  /** Runs an upload with `journal` and stops it (AbortError) once `segments` segments are stored. */
  const interruptedUpload = async (grid: FakeGrid, bytes: Uint8Array, journal: UploadJournal, sourceKey: string, segments: number): Promise<void> => {
    const ctl = new AbortController()
    const up = new Upload(grid.ports(), source(bytes), { shardSize: SHARD, journal, sourceKey, signal: ctl.signal, concurrency: 1 })
    up.addEventListener('progress', e => { if ((e as CustomEvent<UploadProgress>).detail.stored >= segments * segPlain) ctl.abort() })
    await expect(up.run()).rejects.toMatchObject({ name: 'AbortError' })
  }
  for (const size of [0, 1, segPlain, segPlain + 1, 3 * segPlain + 777]) {
    it(`round-trips ${size} bytes byte-identically`, async () => {
      const grid = FakeGrid.make(6)
      const bytes = randomBytes(size)
      const up = await put(grid, bytes, { name: 'f.bin' })
      expect(up.manifest.segments.length).toBe(Math.max(1, Math.ceil(size / segPlain)))
      expect(sha(await get(grid, up.link))).toBe(sha(bytes))
    })
  }

  it('farmers hold only ciphertext', async () => {
    const grid = FakeGrid.make(6)
    const text = Buffer.from('the secret plans '.repeat(2000))
    const up = await put(grid, text)
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

  it('survives any m farmers lost; m + 1 holders of a segment lost gives an error naming the segment', async () => {
    const grid = FakeGrid.make(6)
    const bytes = randomBytes(3 * segPlain)
    const up = await put(grid, bytes)
    const seg1 = up.manifest.segments[1]!.holders.flat()
    grid.down.add(seg1[0]!); grid.down.add(seg1[5]!) // m = 2, one data and one parity holder
    expect(sha(await get(grid, up.link))).toBe(sha(bytes))
    grid.down.add(seg1[2]!)
    const link = up.link
    // The manifest holders may be down too; the error must still be about data, not a crash.
    await expect(get(grid, link)).rejects.toMatchObject({ name: expect.stringMatching(/SegmentUnavailableError|ManifestUnavailableError/) })
    const err = await get(grid, link).catch((e: Error) => e) as Error & { details?: { segment?: number } }
    if (err.name === 'SegmentUnavailableError') expect(err.message).toMatch(/Segment \d+ cannot be rebuilt: 3 of the 4/)
  })

  it('corrupt stored fragments are treated as missing, never as data', async () => {
    const grid = FakeGrid.make(6)
    const bytes = randomBytes(2 * segPlain)
    const up = await put(grid, bytes)
    for (const s of up.manifest.segments) {
      const store = grid.stores.get(s.holders[0]![0]!)! as unknown as { corruptForTesting: (id: string) => void }
      store.corruptForTesting(s.fragments[0]!)
    }
    expect(sha(await get(grid, up.link))).toBe(sha(bytes))
  })

  it('a wrong key or a tampered manifest id gives an authentication or availability error, never wrong bytes', async () => {
    const grid = FakeGrid.make(6)
    const up = await put(grid, randomBytes(1000))
    const cap = parseCapability(up.link)
    cap.key![0]! ^= 1
    await expect(new Download(grid.ports(), cap).run(() => {})).rejects.toMatchObject({ name: 'AuthenticationError' })
    const cap2 = parseCapability(up.link)
    cap2.manifestId = 'f'.repeat(64)
    await expect(new Download(grid.ports(), cap2).run(() => {})).rejects.toMatchObject({ name: 'FileNotFoundError', code: 'FILE_NOT_FOUND' })
  })

  it('the owner sees health per segment, and after a delete the file is gone for everyone', async () => {
    const grid = FakeGrid.make(6)
    const up = await put(grid, randomBytes(2 * segPlain + 1))
    const cap = parseCapability(up.link)
    const before = await fileHealth(grid.ports(), cap)
    expect(before.segments.map(s => [s.status, s.available])).toEqual([['healthy', 6], ['healthy', 6], ['healthy', 6]])
    grid.down.add(up.manifest.segments[1]!.holders[0]![0]!)
    const one = await fileHealth(grid.ports(), cap)
    // Six farmers, 4 + 2: each holds one fragment of every segment, so all three lose one.
    expect(one.segments.map(s => [s.status, s.available])).toEqual([['degraded', 5], ['degraded', 5], ['degraded', 5]])
    grid.down.clear()
    // A HAS that fails once (a reset connection) is asked again before the holder counts as empty.
    const flaky = up.manifest.segments[0]!.holders[2]![0]!
    let failures = 0
    const transport: FragmentTransport = {
      get: grid.get.bind(grid), put: grid.put.bind(grid), delete: grid.delete.bind(grid),
      has: async (f, ids) => {
        if (f.peerId === flaky && failures++ === 0) throw new Error('connection reset')
        return await grid.has(f, ids)
      }
    }
    const once = { ...grid.ports(), transport }
    expect((await fileHealth(once, cap)).segments.map(s => s.status)).toEqual(['healthy', 'healthy', 'healthy'])
    expect(failures).toBe(2)

    const { deleted, failed } = await deleteFile(grid.ports(), cap, await ownerKeyFromSeed(up.ownerSeed))
    expect(failed).toBe(0)
    expect(deleted).toBe(3 * 6 + cap.holders.length) // every fragment, and every copy of the manifest
    await expect(new Download(grid.ports(), cap).run(() => {})).rejects.toMatchObject({ name: 'FileNotFoundError' })
    // A holder that is down is not "not found": that stays an availability error.
    grid.down.add(cap.holders[0]!)
    await expect(new Download(grid.ports(), cap).run(() => {})).rejects.toMatchObject({ name: 'ManifestUnavailableError' })
  })

  it('range reads fetch only the segments they touch', async () => {
    const grid = FakeGrid.make(6)
    const bytes = randomBytes(5 * segPlain)
    const up = await put(grid, bytes)
    grid.gets = 0
    const part = await get(grid, up.link, { start: 2 * segPlain + 10, end: 3 * segPlain + 5 })
    expect(Buffer.compare(part, bytes.subarray(2 * segPlain + 10, 3 * segPlain + 5))).toBe(0)
    expect(grid.gets).toBe(1 + 2 * 4) // the manifest, then k fragments of each of the two segments
  })

  it('a stalled manifest holder is joined by the next one instead of being waited out', async () => {
    const grid = FakeGrid.make(6)
    const bytes = randomBytes(1000)
    const up = await put(grid, bytes)
    grid.slow.set(up.capability.holders[0]!, 10_000) // the first holder asked
    const t0 = Date.now()
    expect(sha(await get(grid, up.link))).toBe(sha(bytes))
    expect(Date.now() - t0).toBeLessThan(4_000)
  })

  it('hedges a segment held up by a slow farmer: one more request, not a wait', async () => {
    const grid = FakeGrid.make(6)
    const bytes = randomBytes(3 * segPlain)
    const up = await put(grid, bytes)
    // A farmer holding one fragment of every segment (6 farmers, 4 + 2), but not the manifest.
    const slow = up.manifest.segments[1]!.holders.flat().find(p => !up.capability.holders.includes(p))!
    grid.slow.set(slow, 10_000)
    grid.gets = 0
    const t0 = Date.now()
    const chunks: Uint8Array[] = []
    await new Download(grid.ports(), parseCapability(up.link), { hedgeAfterMs: 100 }).run(c => { chunks.push(c.slice()) })
    expect(Date.now() - t0).toBeLessThan(3_000)
    expect(sha(Buffer.concat(chunks))).toBe(sha(bytes))
    expect(grid.gets).toBeGreaterThan(1 + 3 * 4) // a hedged request went out…
    expect(grid.gets).toBeLessThanOrEqual(1 + 3 * 5) // …at most one per segment
  })

  it('a farmer failing during the put has its fragments moved to another farmer', async () => {
    const grid = FakeGrid.make(8)
    const bytes = randomBytes(4 * segPlain)
    grid.down.add(grid.farmers[2]!.peerId)
    const ports = grid.ports()
    ports.directory.list = async () => grid.farmers // the directory still lists the dead farmer
    const up = await new Upload(ports, source(bytes), { shardSize: SHARD }).run()
    expect(up.manifest.segments.flatMap(s => s.holders.flat())).not.toContain(grid.farmers[2]!.peerId)
    expect(sha(await get(grid, up.link))).toBe(sha(bytes))
  })

  it('an interrupted upload resumes from its journal without re-sending stored segments', async () => {
    const grid = FakeGrid.make(6)
    const bytes = randomBytes(6 * segPlain)
    const journal = memoryJournal()
    await interruptedUpload(grid, bytes, journal, 'f:1', 3)
    expect(Object.keys(journal.state()!.done).length).toBeGreaterThanOrEqual(3)
    const full = 6 * 6 * SHARD
    const second = await new Upload(grid.ports(), source(bytes), { shardSize: SHARD, journal, sourceKey: 'f:1' }).run()
    expect(second.sentBytes).toBeLessThanOrEqual(full / 2)
    expect(journal.state()).toBeUndefined()
    expect(sha(await get(grid, second.link))).toBe(sha(bytes))
  })

  it('repair rebuilds what two farmers took away onto others; old links still read it, and rm finds every copy', async () => {
    const grid = FakeGrid.make(8)
    const [n0, n1] = grid.farmers.slice(6).map(f => f.peerId)
    grid.down.add(n0!); grid.down.add(n1!) // not there yet: the file goes to the other six
    const bytes = randomBytes(3 * segPlain - 100)
    const up = await put(grid, bytes)
    grid.down.clear()
    const cap = parseCapability(up.link)
    // Six farmers, 4 + 2: each of them holds one fragment of every segment; three hold the manifest.
    const others = grid.farmers.slice(0, 6).map(f => f.peerId).filter(p => !cap.holders.includes(p))
    const gone = [cap.holders[0]!, cap.holders[1]!]
    for (const h of gone) grid.down.add(h) // left the grid for good
    expect((await fileHealth(grid.ports(), cap)).segments.map(s => s.status)).toEqual(['degraded', 'degraded', 'degraded'])
    const owner = await ownerKeyFromSeed(up.ownerSeed)
    // The directory still lists the departed (as a relay does until their record expires): they do
    // not answer the lookup, so nothing is sent to them.
    let putsToGone = 0
    const stale = {
      ...grid.ports(),
      directory: { list: async () => grid.farmers },
      transport: {
        put: async (...a: Parameters<FakeGrid['put']>) => { if (gone.includes(a[0].peerId)) putsToGone++; await grid.put(...a) },
        get: grid.get.bind(grid), has: grid.has.bind(grid), delete: grid.delete.bind(grid)
      }
    }
    const r = await repairFile(stale, cap, owner)
    expect(putsToGone).toBe(0)
    expect(r).toMatchObject({ segments: 3, repaired: 3, fragmentsStored: 6, manifestCopiesStored: 2, lost: [], short: [] })
    for (const n of [n0!, n1!]) expect((await grid.stores.get(n)!.has(up.manifest.segments.flatMap(s => s.fragments))).filter(Boolean)).toHaveLength(3)
    const copies = await Promise.all([...grid.stores].filter(([p]) => !gone.includes(p)).map(async ([, st]) => (await st.has([cap.manifestId]))[0]))
    expect(copies.filter(Boolean)).toHaveLength(3) // m + 1 again
    expect((await fileHealth(grid.ports(), cap)).segments.map(s => s.status)).toEqual(['healthy', 'healthy', 'healthy'])
    expect(await repairFile(grid.ports(), cap, owner)).toMatchObject({ repaired: 0, fragmentsStored: 0, manifestCopiesStored: 0 })

    // Two more go down, among them the last manifest holder the link names: each segment keeps its
    // 2 rebuilt fragments and 2 originals (k = 4). The link is the one from before the repair; its
    // manifest lists none of the new copies, which the download finds through the directory.
    grid.down.add(cap.holders[2]!); grid.down.add(others[0]!)
    expect(sha(await get(grid, up.link))).toBe(sha(bytes))
    grid.down.clear()

    expect(r.placed).toHaveLength(6 + 2) // where the copies went, for the owner to keep
    // One farmer holding repaired copies is offline while the owner deletes: without the recorded
    // places nothing would say those copies exist, and the delete would look complete.
    grid.down.add(n0!)
    expect((await deleteFile(grid.ports(), cap, owner, { copies: r.placed })).failed).toBeGreaterThan(0)
    grid.down.delete(n0!)
    // Run again once it is back: what the first run removed answers NOT_FOUND or nothing, and the rest goes.
    expect((await deleteFile(grid.ports(), cap, owner, { copies: r.placed })).failed).toBe(0)
    expect((await Promise.all([...grid.stores.values()].map(async st => (await st.stat()).count))).every(n => n === 0)).toBe(true)
  })

  it('repair names the segments below k, which nothing can bring back', async () => {
    const grid = FakeGrid.make(6)
    const up = await put(grid, randomBytes(segPlain))
    const cap = parseCapability(up.link)
    // The three farmers without a copy of the manifest lose their disks: 3 fragments left of 4 + 2.
    const emptied = grid.farmers.map(f => f.peerId).filter(p => !cap.holders.includes(p))
    expect(emptied).toHaveLength(3)
    for (const h of emptied) grid.stores.set(h, new MemoryFragmentStore({ quota: 1e9 }))
    expect(await repairFile(grid.ports(), cap, await ownerKeyFromSeed(up.ownerSeed)))
      .toMatchObject({ lost: [0], repaired: 0, fragmentsStored: 0, short: [] })
  })

  it('a resumed upload stores again the finished segments whose holders lost fragments meanwhile', async () => {
    const grid = FakeGrid.make(8)
    const bytes = randomBytes(6 * segPlain)
    const journal = memoryJournal()
    await interruptedUpload(grid, bytes, journal, 'f:2', 3)
    const finished = Object.values(journal.state()!.done).map(d => d.entry)
    expect(finished.length).toBeGreaterThanOrEqual(3)
    // While the upload waited, the holder of segment 0's first fragment restarted with an empty
    // disk, and the holder of segment 1's last fragment left the grid.
    const emptied = finished[0]!.holders[0]![0]!
    grid.stores.set(emptied, new MemoryFragmentStore({ quota: 1e9 }))
    const left = finished[1]!.holders[5]![0]!
    grid.down.add(left)

    const second = await new Upload(grid.ports(), source(bytes), { shardSize: SHARD, journal, sourceKey: 'f:2' }).run()
    expect(second.restoredSegments).toBeGreaterThanOrEqual(2)
    const health = await fileHealth(grid.ports(), parseCapability(second.link))
    expect(health.segments.map(s => s.status)).toEqual(health.segments.map(() => 'healthy'))
    expect(second.manifest.segments.flatMap(s => s.holders.flat())).not.toContain(left)
    // Only the lost fragments went again, not their segments' others.
    const lost = finished.flatMap(e => e.holders.flat()).filter(h => h === emptied || h === left).length
    expect(lost).toBeGreaterThanOrEqual(2)
    expect(second.sentBytes).toBeLessThanOrEqual(((6 - finished.length) * 6 + lost) * SHARD)
    expect(sha(await get(grid, second.link))).toBe(sha(bytes))
  })

  it('a resumed upload refuses a file that changed under the same size and date, and drops its journal', async () => {
    const grid = FakeGrid.make(7)
    const bytes = randomBytes(6 * segPlain)
    const journal = memoryJournal()
    await interruptedUpload(grid, bytes, journal, 'f:3', 3)
    // Segment 0 lost a fragment, so it is sealed again: from bytes that are not the ones stored.
    grid.stores.set(journal.state()!.done[0]!.entry.holders[0]![0]!, new MemoryFragmentStore({ quota: 1e9 }))
    const changed = Buffer.from(bytes)
    changed[10] = changed[10]! ^ 0xff
    await expect(new Upload(grid.ports(), source(changed), { shardSize: SHARD, journal, sourceKey: 'f:3' }).run())
      .rejects.toMatchObject({ name: 'SourceChangedError', code: 'SOURCE_CHANGED', details: { segment: 0 } })
    expect(journal.state()).toBeUndefined()
    const fresh = await new Upload(grid.ports(), source(changed), { shardSize: SHARD, journal, sourceKey: 'f:3' }).run()
    expect(sha(await get(grid, fresh.link))).toBe(sha(changed))
  })

  it('a resume interrupted again still knows which holders kept which fragments', async () => {
    const grid = FakeGrid.make(8)
    const bytes = randomBytes(4 * segPlain)
    const journal = memoryJournal()
    await interruptedUpload(grid, bytes, journal, 'f:4', 2)
    const before = structuredClone(journal.state()!.done)
    // Every farmer is unreachable while the next attempt checks: nothing is confirmed, nothing stored.
    for (const f of grid.farmers) grid.down.add(f.peerId)
    const ports = { ...grid.ports(), directory: { list: async () => grid.farmers } }
    await expect(new Upload(ports, source(bytes), { shardSize: SHARD, journal, sourceKey: 'f:4' }).run()).rejects.toThrow()
    expect(journal.state()!.done).toEqual(before) // the journal forgot nothing
    grid.down.clear()
    const third = await new Upload(grid.ports(), source(bytes), { shardSize: SHARD, journal, sourceKey: 'f:4' }).run()
    expect(third.restoredSegments).toBe(0)
    expect(third.sentBytes).toBeLessThanOrEqual((4 - Object.keys(before).length) * 6 * SHARD)
    expect(sha(await get(grid, third.link))).toBe(sha(bytes))
  })

  it('frees each segment as soon as the pipeline is done with it, and still round-trips', async () => {
    const grid = FakeGrid.make(6)
    const shard = 64 * 1024 // segment buffers above RELEASE_MIN_BYTES
    const bytes = randomBytes(3 * (4 * shard - 16))
    const encoded: Uint8Array[] = []
    const coder: ErasureCoder = {
      encodeShards: async (...a) => { const r = await pool.encodeShards(...a); encoded.push(r); return r },
      reconstruct: async (...a) => await pool.reconstruct(...a)
    }
    const reads: Uint8Array[] = []
    const src: ByteSource = { size: bytes.length, fresh: true, read: async (o, l) => { const b = new Uint8Array(bytes.subarray(o, o + l)); reads.push(b); return b } }
    const up = await new Upload({ ...grid.ports(), coder }, src, { shardSize: shard }).run()
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
    const grid = FakeGrid.make(6)
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
    const up = await new Upload({ ...grid.ports(), transport, coder }, src, { shardSize: SHARD, concurrency: 4 }).run()
    expect(maxPreparing).toBe(1) // never two segments swollen (plaintext + ciphertext + parity) at once
    expect(maxStoring).toBeGreaterThan(1) // yet the PUTs of several segments overlap
    expect(sha(await get(grid, up.link))).toBe(sha(bytes))
  })

  it('reads every segment into one plaintext buffer when the source offers readInto', async () => {
    const grid = FakeGrid.make(6)
    const bytes = randomBytes(5 * (4 * SHARD - 16) + 99) // 6 segments, the last one short
    const targets: Uint8Array[] = []
    let reads = 0
    const src: ByteSource = {
      size: bytes.length,
      fresh: true,
      read: async (o, l) => { reads++; return bytes.slice(o, o + l) },
      readInto: async (o, t) => { targets.push(t); t.set(bytes.subarray(o, o + t.length)) }
    }
    const up = await new Upload(grid.ports(), src, { shardSize: SHARD, concurrency: 4 }).run()
    expect(reads).toBe(0)
    expect(targets).toHaveLength(6)
    expect(new Set(targets.map(t => t.buffer)).size).toBe(1) // one buffer, reused
    expect(targets[0]!.buffer.byteLength).toBe(4 * SHARD - 16) // and never freed while in use
    expect(sha(await get(grid, up.link))).toBe(sha(bytes))
  })

  it('seals segments into recycled shard buffers, zero-padding a short last segment', async () => {
    const grid = FakeGrid.make(6)
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
    const up = await new Upload({ ...grid.ports(), coder }, source(bytes), { shardSize: shard, concurrency: 1 }).run()
    expect(seen.size).toBe(1) // seven segments, one after another, all sealed into one buffer
    expect([...seen].every(b => b.byteLength === 0)).toBe(true) // all freed when the upload ends
    expect([...last!.subarray(4 * shard - 3, 4 * shard)]).toEqual([0, 0, 0]) // no bytes of an earlier segment
    expect(sha(await get(grid, up.link))).toBe(sha(bytes))
  })

  it('downloads into recycled buffers with an engine that writes in place, and rebuilds without reusing', async () => {
    const grid = FakeGrid.make(6)
    const shard = 32 * 1024 // plaintext buffers above RELEASE_MIN_BYTES
    const bytes = randomBytes(5 * (4 * shard - 16) + 70_000) // 6 segments, the last one short (and above RELEASE_MIN_BYTES too)
    const up = await new Upload({ ...grid.ports(), cipher: nodeSegmentCipher }, source(bytes), { shardSize: shard }).run()
    const fetch = async (): Promise<{ out: Buffer, buffers: Set<ArrayBufferLike>, given: Uint8Array[] }> => {
      const buffers = new Set<ArrayBufferLike>()
      const copies: Uint8Array[] = []
      const given: Uint8Array[] = []
      await new Download({ ...grid.ports(), cipher: nodeSegmentCipher }, parseCapability(up.link), { releaseChunks: true, concurrency: 1 })
        .run(c => { buffers.add(c.buffer); given.push(c); copies.push(c.slice()) })
      return { out: Buffer.concat(copies), buffers, given }
    }
    const healthy = await fetch()
    expect(sha(healthy.out)).toBe(sha(bytes))
    expect(healthy.buffers.size).toBe(2) // five full segments decrypted into one buffer, the short last one its own
    expect(healthy.given.every(c => c.length === 0)).toBe(true) // and freed when the download ends
    // A data fragment's holder down: every segment is rebuilt from parity, and still exact.
    grid.down.add(up.manifest.segments[0]!.holders[1]![0]!)
    expect(sha((await fetch()).out)).toBe(sha(bytes))
  })

  it('refuses a policy the grid cannot satisfy, with the reason', async () => {
    await expect(put(FakeGrid.make(6), randomBytes(10), { policy: 'archive' })).rejects.toThrow(/needs 14 farmers \(10 \+ 4\), the grid has 6/)
  })
})

describe('offline outbox', () => {
  class MemoryOutbox implements OutboxStore {
    jobs = new Map<string, OutboxJob>()
    frags = new Map<string, Uint8Array>()
    async putJob (j: OutboxJob) { this.jobs.set(j.id, structuredClone(j)) }
    async getJob (id: string) { const j = this.jobs.get(id); return j === undefined ? undefined : structuredClone(j) }
    async listJobs () { return [...this.jobs.values()] }
    async deleteJob (id: string) { this.jobs.delete(id) }
    async putFragment (j: string, s: number, i: number, b: Uint8Array) { this.frags.set(`${j}/${s}/${i}`, b.slice()) }
    async getFragment (j: string, s: number, i: number) { return this.frags.get(`${j}/${s}/${i}`) }
    async deleteFragments (j: string) { for (const k of [...this.frags.keys()]) if (k.startsWith(`${j}/`)) this.frags.delete(k) }
  }

  it('seals with no grid at all, then drains (resuming after a failed attempt) into a downloadable file', async () => {
    const outbox = new MemoryOutbox()
    const bytes = randomBytes(3 * (4 * SHARD - 16) + 5)
    const job = await sealToOutbox(pool, outbox, source(bytes), { shardSize: SHARD, name: 'offline.bin' })
    expect(job.status).toBe('queued')
    expect(outbox.frags.size).toBe(4 * 6)
    const grid = FakeGrid.make(6)
    // First drain: every farmer is down, so it fails and the job stays queued with its fragments.
    for (const f of grid.farmers) grid.down.add(f.peerId)
    const ports = { ...grid.ports(), directory: { list: async () => grid.farmers } }
    await expect(drainJob(ports, outbox, job.id)).rejects.toMatchObject({ name: 'FragmentUndeliverableError' })
    expect(outbox.frags.size).toBe(24)
    expect(await outbox.getJob(job.id)).toMatchObject({ status: 'queued', lastError: { name: 'FragmentUndeliverableError' } })
    grid.down.clear()
    const r = await drainJob(grid.ports(), outbox, job.id)
    expect(outbox.frags.size).toBe(0)
    expect((await outbox.getJob(job.id))?.status).toBe('done')
    expect(sha(await get(grid, r.link))).toBe(sha(bytes))
  })

  it('a drain resumed later sends again the fragments that holders lost meanwhile, and only those', async () => {
    const outbox = new MemoryOutbox()
    const bytes = randomBytes(4 * (4 * SHARD - 16))
    const job = await sealToOutbox(pool, outbox, source(bytes), { shardSize: SHARD, name: 'later.bin' })
    const grid = FakeGrid.make(7)
    const ctl = new AbortController()
    await expect(drainJob(grid.ports(), outbox, job.id, { signal: ctl.signal, onProgress: n => { if (n >= 2) ctl.abort() } }))
      .rejects.toMatchObject({ name: 'AbortError' })
    const sentBefore = (await outbox.getJob(job.id))!.holders
    expect(Object.keys(sentBefore).length).toBeGreaterThanOrEqual(2)
    const emptied = sentBefore[0]![2]![0]!
    grid.stores.set(emptied, new MemoryFragmentStore({ quota: 1e9 })) // restarted with an empty disk

    let puts = 0
    const ports = grid.ports()
    const counting = {
      ...ports,
      transport: {
        put: async (...a: Parameters<FakeGrid['put']>) => { puts++; await grid.put(...a) },
        get: grid.get.bind(grid), has: grid.has.bind(grid), delete: grid.delete.bind(grid)
      }
    }
    const r = await drainJob(counting, outbox, job.id)
    const lost = Object.values(sentBefore).flatMap(h => h.flat()).filter(h => h === emptied).length
    expect(lost).toBeGreaterThanOrEqual(1)
    expect(puts).toBeLessThanOrEqual((4 - Object.keys(sentBefore).length) * 6 + lost + r.capability.holders.length) // + the manifest's copies
    const health = await fileHealth(grid.ports(), parseCapability(r.link))
    expect(health.segments.map(s => s.status)).toEqual(['healthy', 'healthy', 'healthy', 'healthy'])
    expect(sha(await get(grid, r.link))).toBe(sha(bytes))
  })
})
