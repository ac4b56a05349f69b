import { randomBytes } from 'node:crypto'
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { parseCapability } from '../../core/capability.ts'
import { MemoryFragmentStore } from '../../stores/memory.ts'
import { createNodeCodecPool } from '../../codec/pool.node.ts'
import type { CodecPool } from '../../codec/pool.ts'
import { FakeGrid, getFile, putFile, sha, source } from '../../../test/support/fake-grid.ts'
import { Download } from './download.ts'
import { fileHealth } from './stat.ts'
import { Repair } from './repair.ts'
import { deleteFile } from './delete.ts'
import { ownerKeyFromSeed } from '../../core/owner-key.ts'
import type { FragmentTransport } from '../ports.ts'

const SHARD = 4096
let pool: CodecPool
beforeAll(() => { pool = createNodeCodecPool({ size: 1 }) })
afterAll(() => pool.terminate())
const makeGrid = (n: number, regions?: string[]): FakeGrid => FakeGrid.make(n, pool, regions)

describe('stat, repair and delete', () => {
  const segPlain = 4 * SHARD - 16 // test policy: k = 4

  it('the owner sees health per segment, and after a delete the file is gone for everyone', async () => {
    const grid = makeGrid(6)
    const up = await putFile(grid.ports(), source(randomBytes(2 * segPlain + 1)), { shardSize: SHARD })
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
      get: grid.get.bind(grid), put: grid.put.bind(grid), delete: grid.delete.bind(grid), renew: grid.renew.bind(grid),
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

  it('a copy a farmer only claims does not count: it answers HAS "held" and cannot prove it', async () => {
    const grid = makeGrid(7) // one to spare, for the rebuilt fragment
    const up = await putFile(grid.ports(), source(randomBytes(segPlain)), { shardSize: SHARD })
    const cap = parseCapability(up.link)
    const liar = up.manifest.segments[0]!.holders[1]![0]!
    const lost = up.manifest.segments[0]!.fragments[1]!
    await grid.stores.get(liar)!.delete(lost)
    const lying = {
      ...grid.ports(),
      transport: {
        get: grid.get.bind(grid), put: grid.put.bind(grid), delete: grid.delete.bind(grid), renew: grid.renew.bind(grid),
        has: async (f: Parameters<FakeGrid['has']>[0], ids: string[]) => f.peerId === liar ? ids.map(() => true) : await grid.has(f, ids)
      }
    }
    const health = await fileHealth(lying, cap)
    expect(health.segments[0]).toMatchObject({ status: 'degraded', available: 5 })
    expect(health.segments[0]!.fragments[1]).toMatchObject({ reachable: [], claimed: [liar] })
    const r = await new Repair(lying, cap, await ownerKeyFromSeed(up.ownerSeed)).run()
    expect(r).toMatchObject({ repaired: 1, fragmentsStored: 1, short: [] })
    expect(r.placed.some(p => p.peer === liar)).toBe(false) // it failed its proof: nothing more of this file
  })

  it('repair reads each fragment straight into its segment; what a bad copy wrote there is rebuilt, not used', async () => {
    const grid = makeGrid(8)
    const [n0, n1] = grid.farmers.slice(6).map(f => f.peerId) as [string, string]
    grid.down.add(n0); grid.down.add(n1)
    const bytes = randomBytes(2 * segPlain)
    const up = await putFile(grid.ports(), source(bytes), { shardSize: SHARD })
    grid.down.clear()
    const cap = parseCapability(up.link)
    // Every segment loses fragment 5 (parity); segment 0's fragment 0 (data) comes back as noise.
    for (const seg of up.manifest.segments) await grid.stores.get(seg.holders[5]![0]!)!.delete(seg.fragments[5]!)
    const noisy = up.manifest.segments[0]!.holders[0]![0]!
    const noise = up.manifest.segments[0]!.fragments[0]!
    const intoSizes: Array<number | undefined> = []
    const ports = {
      ...grid.ports(),
      transport: {
        has: grid.has.bind(grid), put: grid.put.bind(grid), delete: grid.delete.bind(grid), renew: grid.renew.bind(grid),
        get: async (f: Parameters<FakeGrid['get']>[0], id: string, o?: { signal?: AbortSignal, into?: Uint8Array }) => {
          const into = o?.into
          // Fetches for the rebuild (the new copies on n0 and n1 are proven by GETs of their own).
          if (id !== cap.manifestId && f.peerId !== n0 && f.peerId !== n1) intoSizes.push(into?.length)
          const real = await grid.get(f, id, o)
          if (into === undefined || into.length !== real.length) return real
          if (id === noise) return into.fill(0x5a) // read in, and it does not hash to its id
          into.set(real)
          return into
        }
      }
    }
    const r = await new Repair(ports, cap, await ownerKeyFromSeed(up.ownerSeed)).run()
    expect(intoSizes.length).toBeGreaterThanOrEqual(2 * 4)
    expect(intoSizes).toEqual(intoSizes.map(() => SHARD)) // every fragment GET had its place to land
    // Segment 0's fragments 0 and 5, and segment 1's fragment 5, were rebuilt from the rest.
    expect(r).toMatchObject({ repaired: 2, fragmentsStored: 3, short: [], lost: [] })
    expect(r.placed.some(p => p.peer === noisy)).toBe(false)
    expect((await fileHealth(grid.ports(), cap)).segments.map(s => [s.status, s.available])).toEqual([['healthy', 6], ['healthy', 6]])
    grid.down.add(noisy) // its own copies are intact; the rebuilt ones must be right too
    expect(sha(await getFile(grid.ports(), up.link))).toBe(sha(bytes))
  })

  it('repair fetches the next segment while the rebuilt one is being stored, and no further ahead', async () => {
    const grid = makeGrid(7)
    const spare = grid.farmers[6]!.peerId
    grid.down.add(spare)
    const up = await putFile(grid.ports(), source(randomBytes(3 * segPlain)), { shardSize: SHARD })
    grid.down.clear()
    const cap = parseCapability(up.link)
    for (const seg of up.manifest.segments) await grid.stores.get(seg.holders[5]![0]!)!.delete(seg.fragments[5]!)
    const segmentOf = new Map(up.manifest.segments.flatMap((seg, s) => seg.fragments.map(id => [id, s] as const)))
    const fetched = new Set<number>()
    let held = 0
    let release = (): void => {}
    const released = new Promise<void>(resolve => { release = resolve })
    const ports = {
      ...grid.ports(),
      transport: {
        has: grid.has.bind(grid), delete: grid.delete.bind(grid), renew: grid.renew.bind(grid),
        get: async (...a: Parameters<FakeGrid['get']>) => {
          const s = segmentOf.get(a[1])
          if (s !== undefined && a[0].peerId !== spare) fetched.add(s)
          return await grid.get(...a)
        },
        put: async (...a: Parameters<FakeGrid['put']>) => { held++; await released; await grid.put(...a) }
      }
    }
    // One segment fetched at a time: while segment 0's PUT waits, segment 1 is fetched and rebuilt;
    // then both wait to be stored, and segment 2 waits for one of them.
    const run = new Repair(ports, cap, await ownerKeyFromSeed(up.ownerSeed), { segmentsInFlight: 1 }).run()
    const until = Date.now() + 5000
    while (held < 2 && Date.now() < until) await new Promise(resolve => setTimeout(resolve, 5))
    await new Promise(resolve => setTimeout(resolve, 50))
    expect(held).toBe(2)
    expect([...fetched].sort()).toEqual([0, 1])
    release()
    expect(await run).toMatchObject({ repaired: 3, fragmentsStored: 3, short: [] })
    expect([...fetched].sort()).toEqual([0, 1, 2])
  })

  it('a farmer that acknowledges PUTs and keeps nothing is found when the new copies are proven, and they go to another', async () => {
    const grid = makeGrid(8)
    const [hole, spare] = grid.farmers.slice(6).map(f => f.peerId) as [string, string]
    grid.down.add(hole); grid.down.add(spare)
    const up = await putFile(grid.ports(), source(randomBytes(3 * segPlain - 100)), { shardSize: SHARD })
    grid.down.clear()
    const cap = parseCapability(up.link)
    // One fragment of every segment lost from a holder that is not a manifest holder.
    const victim = up.manifest.segments[0]!.holders.flat().find(h => !cap.holders.includes(h))!
    for (const seg of up.manifest.segments) await grid.stores.get(victim)!.delete(seg.fragments[seg.holders.findIndex(h => h.includes(victim))]!)
    const putsTo = new Map<string, number>()
    const ports = {
      ...grid.ports(),
      transport: {
        get: grid.get.bind(grid), has: grid.has.bind(grid), delete: grid.delete.bind(grid), renew: grid.renew.bind(grid),
        put: async (...a: Parameters<FakeGrid['put']>) => {
          putsTo.set(a[0].peerId, (putsTo.get(a[0].peerId) ?? 0) + 1)
          if (a[0].peerId !== hole) await grid.put(...a) // the hole says "stored" and keeps nothing
        }
      },
      // Placement all but always draws the hole first: the proofs, not luck, must move the copies.
      scores: { record: () => {}, trusted: () => true, weight: (p: string) => p === spare ? 1e-9 : 1 }
    }
    // One segment at a time.
    const r = await new Repair(ports, cap, await ownerKeyFromSeed(up.ownerSeed), { segmentsInFlight: 1 }).run()
    // The first two segments' copies, before any was proven (proofs start once nothing is left to
    // fetch, beside the last segment's PUT, which may or may not reach the hole first).
    const toHole = putsTo.get(hole)!
    expect(toHole).toBeGreaterThanOrEqual(2)
    expect(putsTo.get(spare)).toBe(3) // each segment's copy, in the second pass once the hole failed its proofs
    expect(r).toMatchObject({ repaired: 3, fragmentsStored: 3, short: [] })
    expect(r.placed.filter(p => p.peer === hole)).toHaveLength(toHole) // the owner's rm still reaches them
    expect((await fileHealth(grid.ports(), cap)).segments.map(s => [s.status, s.available])).toEqual([['healthy', 6], ['healthy', 6], ['healthy', 6]])
  })

  it('repair rebuilds what two farmers took away onto others; old links still read it, and rm finds every copy', async () => {
    const grid = makeGrid(8)
    const [n0, n1] = grid.farmers.slice(6).map(f => f.peerId)
    grid.down.add(n0!); grid.down.add(n1!) // not there yet: the file goes to the other six
    const bytes = randomBytes(3 * segPlain - 100)
    const up = await putFile(grid.ports(), source(bytes), { shardSize: SHARD })
    grid.down.clear()
    const cap = parseCapability(up.link)
    // Six farmers, 4 + 2: each of them holds one fragment of every segment; five hold the manifest.
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
        get: grid.get.bind(grid), has: grid.has.bind(grid), delete: grid.delete.bind(grid), renew: grid.renew.bind(grid)
      }
    }
    const r = await new Repair(stale, cap, owner).run()
    expect(putsToGone).toBe(0)
    expect(r).toMatchObject({ segments: 3, repaired: 3, fragmentsStored: 6, manifestCopiesStored: 2, lost: [], short: [] })
    for (const n of [n0!, n1!]) expect((await grid.stores.get(n)!.has(up.manifest.segments.flatMap(s => s.fragments))).filter(Boolean)).toHaveLength(3)
    const copies = await Promise.all([...grid.stores].filter(([p]) => !gone.includes(p)).map(async ([, st]) => (await st.has([cap.manifestId]))[0]))
    expect(copies.filter(Boolean)).toHaveLength(5) // five copies again
    expect((await fileHealth(grid.ports(), cap)).segments.map(s => s.status)).toEqual(['healthy', 'healthy', 'healthy'])
    expect(await new Repair(grid.ports(), cap, owner).run()).toMatchObject({ repaired: 0, fragmentsStored: 0, manifestCopiesStored: 0 })

    // Two more go down, manifest holders the link names: each segment keeps its 2 rebuilt fragments
    // and 2 originals (k = 4). The link is the one from before the repair; its manifest lists none
    // of the new copies, which the download finds through the directory.
    grid.down.add(cap.holders[2]!); grid.down.add(cap.holders[3]!)
    expect(others).toHaveLength(1)
    expect(sha(await getFile(grid.ports(), up.link))).toBe(sha(bytes))
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
    const grid = makeGrid(6)
    const up = await putFile(grid.ports(), source(randomBytes(segPlain)), { shardSize: SHARD })
    const cap = parseCapability(up.link)
    // Three farmers lose their disks, the one without a copy of the manifest among them: 3 fragments
    // left of 4 + 2, and three copies of the manifest.
    const emptied = [...grid.farmers.map(f => f.peerId).filter(p => !cap.holders.includes(p)), ...cap.holders].slice(0, 3)
    expect(emptied).toHaveLength(3)
    for (const h of emptied) grid.stores.set(h, new MemoryFragmentStore({ quota: 1e9 }))
    expect(await new Repair(grid.ports(), cap, await ownerKeyFromSeed(up.ownerSeed)).run())
      .toMatchObject({ lost: [0], repaired: 0, fragmentsStored: 0, short: [] })
  })
})
