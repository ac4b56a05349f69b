// A keeper killed (SIGKILL) in the middle of a repair, against real farmer processes (relay + 9,
// 4 + 2): restarted on the same state, it resumes, and every copy of the file on any farmer's disk
// is one the manifest or the keeper's records name (so audits, renewals and the owner's `rm` reach
// it): the copies the killed repair had stored are adopted or withdrawn, none is left orphaned.
// The file then reads back byte-identical.
import { basename, join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { nodeKeyValueStore } from '../../src/client/session.node.ts'
import { OwnerIndex } from '../../src/client/owner-index.ts'
import { spawnShardfarm, stopChild } from '../../src/cli/spawn.ts'
import { parseCapability } from '../../src/core/capability.ts'
import { KeeperState } from '../../src/keeper/state.ts'
import type { TestChild } from '../grid/helpers.ts'
import { TEST_POLICY_FILE } from '../support/test-policy.ts'
import { CliGrid, LIVE_SEGMENT, sha256File, writeRandomFile, type Farmer } from './cli-grid.ts'

const g = new CliGrid()
beforeAll(async () => { await g.start(9) }, 120_000)
afterAll(async () => { await g.destroy() })

interface KeeperChild { child: TestChild, url: string }

async function startKeeper (name: string, data: string, flags: string[] = []): Promise<KeeperChild> {
  const logs: string[] = []
  const c = await spawnShardfarm(['keeper', '--http', '127.0.0.1:0', '--interval', '1', '--grace', '1', '--audits-per-hour', '1000000', '--data', data, ...flags], {
    name, stderr: 'pipe', onStderr: line => { logs.push(line); if (logs.length > 400) logs.shift() },
    env: { SHARDFARM_HOME: g.home, SHARDFARM_CONFIG: g.config, SHARDFARM_RELAY: '', SHARDFARM_FROM_SOURCE: '1' }
  })
  const child = Object.assign(c, { logs, name })
  g.grid.children.push(child) // killed by PID in destroy() whatever happens
  return { child, url: c.addr }
}

async function metrics (k: KeeperChild): Promise<Map<string, number>> {
  const text = await (await fetch(`${k.url}/metrics`)).text()
  return new Map(text.split('\n').filter(l => l !== '' && !l.startsWith('#')).map(l => {
    const at = l.lastIndexOf(' ')
    return [l.slice(0, at), Number(l.slice(at + 1))] as const
  }))
}

const health = (m: Map<string, number>, h: string): number => m.get(`shardfarm_keeper_segments{health="${h}"}`) ?? 0

/** Every (id, farmer) copy of `ids` on the farmers' disks. */
async function copiesOnDisk (ids: ReadonlySet<string>): Promise<Array<{ id: string, peer: string, farmer: Farmer }>> {
  const out: Array<{ id: string, peer: string, farmer: Farmer }> = []
  for (const f of g.farmers) {
    for (const path of await g.fragmentFiles(f)) if (ids.has(basename(path))) out.push({ id: basename(path), peer: f.peerId, farmer: f })
  }
  return out
}

interface Stat { segments: Array<{ fragments: Array<{ id: string, holders: string[] }> }> }

describe('keeper killed mid-repair', () => {
  it('resumes after a restart and leaves no copy unrecorded; the file reads back whole', async () => {
    const path = join(g.work, 'killed.bin')
    const digest = await writeRandomFile(path, 5 * LIVE_SEGMENT + 4321)
    const { link } = await g.put(path, ['--policy', TEST_POLICY_FILE])
    const cap = parseCapability(link)
    const stat = JSON.parse((await g.cli(['stat', link, '--json'])).out) as Stat
    const listed = new Set<string>(cap.holders.map(p => `${cap.manifestId} ${p}`))
    for (const seg of stat.segments) for (const f of seg.fragments) for (const h of f.holders) listed.add(`${f.id} ${h}`)
    const ids = new Set([cap.manifestId, ...stat.segments.flatMap(s => s.fragments.map(f => f.id))])
    expect(stat.segments).toHaveLength(6)

    // Two farmers lost for good: every segment they held must be rebuilt.
    const held = async (f: Farmer): Promise<number> => (await copiesOnDisk(ids)).filter(c => c.farmer === f).length
    const byLoad = await Promise.all(g.farmers.map(async f => [f, await held(f)] as const))
    const victims = byLoad.sort((a, b) => b[1] - a[1]).slice(0, 2).map(([f]) => f)
    for (const v of victims) await g.kill(v)

    // A slow repair (8 Mbit/s, about 40 s for this file): killed once a rebuilt copy is on a new farmer's disk, before it returns.
    const data = join(g.work, 'keeper-killed')
    const first = await startKeeper('keeper-killed-1', data, ['--repair-mbps', '8'])
    const until = Date.now() + 90_000
    let landed = false
    while (!landed && Date.now() < until) {
      const m = await metrics(first)
      landed = (m.get('shardfarm_keeper_repair_bytes_total{direction="out"}') ?? 0) > 0 &&
        (await copiesOnDisk(ids)).some(c => !listed.has(`${c.id} ${c.peer}`))
      if (!landed) await new Promise(resolve => setTimeout(resolve, 100))
    }
    expect(landed, first.child.logs.slice(-20).join('\n')).toBe(true)
    process.kill(first.child.pid, 'SIGKILL')
    await first.child.exited
    expect(first.child.logs.some(l => l.includes('"msg":"repaired"')), 'the repair had returned before the kill').toBe(false)
    const orphansAtKill = (await copiesOnDisk(ids)).filter(c => !listed.has(`${c.id} ${c.peer}`)).length
    expect(orphansAtKill).toBeGreaterThan(0)

    // Restarted on the same state, unthrottled: it settles the killed repair's copies and finishes.
    const second = await startKeeper('keeper-killed-2', data)
    const deadline = Date.now() + 90_000
    let m = new Map<string, number>()
    while (Date.now() < deadline) {
      m = await metrics(second)
      if ((m.get('shardfarm_keeper_rounds_total') ?? 0) >= 2 && health(m, 'healthy') === 6 && health(m, 'degraded') + health(m, 'at-risk') === 0) break
      await new Promise(resolve => setTimeout(resolve, 250))
    }
    expect(health(m, 'healthy'), second.child.logs.slice(-30).join('\n')).toBe(6)
    await stopChild(second.child, 10_000)

    // Every copy on any disk is one the manifest lists or the keeper and the owner index recorded.
    const record = await new KeeperState(nodeKeyValueStore(data)).file(cap.manifestId)
    expect(record.pending ?? []).toEqual([])
    const owned = (await new OwnerIndex(nodeKeyValueStore(g.home)).list()).find(f => f.manifestId === cap.manifestId)
    const recorded = new Set([...listed, ...record.copies.map(c => `${c.id} ${c.peer}`)])
    const inIndex = new Set((owned?.copies ?? []).map(c => `${c.id} ${c.peer}`))
    const onDisk = await copiesOnDisk(ids)
    const unrecorded = onDisk.filter(c => !recorded.has(`${c.id} ${c.peer}`)).map(c => `${c.id.slice(0, 8)} on ${c.farmer.name}`)
    expect(unrecorded).toEqual([])
    // And the owner's `rm` reaches every repaired copy through the owner index.
    const notInIndex = onDisk.filter(c => !listed.has(`${c.id} ${c.peer}`) && !inIndex.has(`${c.id} ${c.peer}`)).map(c => `${c.id.slice(0, 8)} on ${c.farmer.name}`)
    expect(notInIndex).toEqual([])
    expect(second.child.logs.some(l => l.includes('journal settled'))).toBe(true)

    const out = path + '.out'
    const got = await g.cli(['get', link, '-o', out])
    expect(got.code, got.stderr).toBe(0)
    expect(await sha256File(out)).toBe(digest)
  }, 240_000)
})
