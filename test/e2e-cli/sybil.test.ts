// A Sybil against placement, with real processes: six honest farmers the relay has known for an
// hour, then six "black hole" farmers (test/support/black-hole-farmer.ts) that join now, claim a
// petabyte free, acknowledge every PUT without keeping it and answer HAS "held" for everything.
// When placement ranked farmers by the free space they claim, the black holes took every fragment
// and every manifest copy, and every file was lost the moment they went away. Now they are new
// (the relay's vetting period is ten minutes), so together they get at most one fragment of a
// segment and no manifest copy, and every file comes back after they are gone.
//
// Why not a vetting period of a few seconds for the honest farmers to wait out: the black holes
// would pass it too, long before 22 puts are done. The relay's own admission table says instead
// that it first saw the honest farmers an hour ago (`CliGrid.start`'s `knownForSeconds`).
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Libp2pTransport, RelayDirectory } from '../../src/client/adapters/libp2p-ports.ts'
import { fetchManifest } from '../../src/client/blocks/open-manifest.ts'
import { parseCapability } from '../../src/core/capability.ts'
import { GRID_REGIONS } from '../../src/cli/grid.ts'
import { CliGrid, LIVE_SEGMENT, sha256File, writeRandomFile } from './cli-grid.ts'
import type { BlackHole } from './cli-grid.ts'
import { TEST_POLICY_FILE } from '../support/test-policy.ts'

const g = new CliGrid()
beforeAll(async () => { await g.start(6, { vettingSeconds: 600, knownForSeconds: 3600 }) }, 120_000)
afterAll(async () => { await g.destroy() })

/** Runs `work` over `items`, `n` at a time (the machine has two cores; one at a time takes minutes). */
async function pool<T, R> (items: T[], n: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length)
  let next = 0
  await Promise.all(Array.from({ length: n }, async () => {
    while (next < items.length) {
      const i = next++
      out[i] = await work(items[i]!)
    }
  }))
  return out
}

describe('six farmers that keep nothing and claim everything', () => {
  it('get at most one fragment of any segment and no manifest copy, and every file comes back without them', async () => {
    const holes: BlackHole[] = []
    for (let i = 0; i < 6; i++) holes.push(await g.addBlackHole(GRID_REGIONS[i % GRID_REGIONS.length]!))
    await g.waitListed(12)

    const files = [
      ...Array.from({ length: 20 }, (_, i) => ({ name: `small-${i}.bin`, size: 1 + i * 997 })),
      { name: 'multi-a.bin', size: 2 * LIVE_SEGMENT + 12_345 },
      { name: 'multi-b.bin', size: 3 * LIVE_SEGMENT }
    ]
    const put = await pool(files, 3, async f => {
      const path = join(g.work, f.name)
      const digest = await writeRandomFile(path, f.size)
      const { link, segments } = await g.put(path, ['--policy', TEST_POLICY_FILE])
      return { ...f, digest, link, segments }
    })
    expect(put.filter(p => p.segments > 1)).toHaveLength(2)

    // What each black hole was sent, before they go.
    const sent = new Map<string, string>()
    for (const h of holes) for (const id of await h.puts()) sent.set(id, h.peerId)
    const holeIds = new Set(holes.map(h => h.peerId))

    // Where the fragments went, from the manifests (opened with the read key in each link).
    const ports = { transport: new Libp2pTransport(g.node), directory: new RelayDirectory(g.node, g.relay.addr) }
    let onHoles = 0
    for (const p of put) {
      const cap = parseCapability(p.link)
      expect(cap.holders.filter(h => holeIds.has(h)), `${p.name}: manifest copies on black holes`).toEqual([])
      expect(cap.holders.length, `${p.name}: manifest copies`).toBeGreaterThanOrEqual(5)
      expect(sent.has(cap.manifestId), `${p.name}: a black hole was sent the manifest`).toBe(false)
      const { manifest } = await fetchManifest(ports, cap)
      for (const [s, seg] of manifest.segments.entries()) {
        const got = seg.fragments.filter(id => sent.has(id)).length
        expect(got, `${p.name} segment ${s}: ${got} fragments sent to black holes`).toBeLessThanOrEqual(1)
        expect(seg.holders.flat().filter(h => holeIds.has(h)).length).toBeLessThanOrEqual(1)
        onHoles += got
      }
    }
    // They were in play: placement gives new farmers a parity position now and then, never more.
    expect(onHoles).toBeGreaterThan(0)

    for (const h of holes) await h.stop()
    await g.waitListed(6)
    await pool(put, 3, async p => {
      const out = join(g.work, `out-${p.name}`)
      const got = await g.cli(['get', p.link, '-o', out])
      expect(got.code, `${p.name}: ${got.stderr}`).toBe(0)
      expect(await sha256File(out)).toBe(p.digest)
    })
  }, 600_000)
})
