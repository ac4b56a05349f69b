// `shardfarm keeper` against real farmer processes (relay + 9, live 4 + 2), run as a child process
// the way a person runs it: it keeps the files put from its machine through churn (four farmers lost
// for good, one at a time, each replaced by an empty one), does not repair a farmer that was only
// down for less than its grace period, and keeps a file it was given as a verify link alone.
import { mkdir } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { spawnShardfarm, stopChild } from '../../src/cli/spawn.ts'
import { GRID_REGIONS } from '../../src/cli/grid.ts'
import { parseCapability } from '../../src/core/capability.ts'
import type { TestChild } from '../grid/helpers.ts'
import { CliGrid, keeperMetrics, LIVE_SEGMENT, writeRandomFile, type Farmer } from './cli-grid.ts'

const g = new CliGrid()
beforeAll(async () => { await g.start(9) }, 120_000)
afterAll(async () => { await g.destroy() })

/** A keeper process on this grid, with its metrics endpoint. */
interface KeeperChild { child: TestChild, url: string }

async function startKeeper (name: string, flags: string[], home = g.home): Promise<KeeperChild> {
  const logs: string[] = []
  const c = await spawnShardfarm(['keeper', '--http', '127.0.0.1:0', '--interval', '1', '--audits-per-hour', '1000000', ...flags], {
    name, stderr: 'pipe', onStderr: line => { logs.push(line); if (logs.length > 400) logs.shift() },
    env: { SHARDFARM_HOME: home, SHARDFARM_CONFIG: g.config, SHARDFARM_RELAY: '', SHARDFARM_FROM_SOURCE: '1' }
  })
  const child = Object.assign(c, { logs, name })
  g.grid.children.push(child) // killed by PID in destroy() whatever happens
  return { child, url: c.addr }
}

/** The keeper's metrics, by name with labels. */
async function metrics (k: KeeperChild): Promise<Map<string, number>> {
  return await keeperMetrics(k.url)
}

const REPAIRED = 'shardfarm_keeper_fragments_repaired_total'
const ROUNDS = 'shardfarm_keeper_rounds_total'
const health = (m: Map<string, number>, h: string): number => m.get(`shardfarm_keeper_segments{health="${h}"}`) ?? 0
const unhealthy = (m: Map<string, number>): number => health(m, 'degraded') + health(m, 'at-risk') + health(m, 'lost')

/** Polls the keeper's metrics until `done` holds (checked after a whole round past the call). */
async function waitFor (k: KeeperChild, what: string, done: (m: Map<string, number>) => boolean, timeoutMs = 45_000): Promise<Map<string, number>> {
  const until = Date.now() + timeoutMs
  const from = (await metrics(k)).get(ROUNDS) ?? 0
  let m = new Map<string, number>()
  while (Date.now() < until) {
    m = await metrics(k)
    if ((m.get(ROUNDS) ?? 0) > from && done(m)) return m
    await new Promise(resolve => setTimeout(resolve, 250))
  }
  throw new Error(`keeper: ${what} did not happen within ${timeoutMs} ms\n${JSON.stringify([...m])}\n${k.child.logs.slice(-30).join('\n')}`)
}

/**
 * A live farmer holding a fragment of a segment of the files (a manifest copy alone does not do:
 * losing it degrades no segment, and no repair would follow), other than those in `spare`.
 */
async function holder (spare: Farmer[] = []): Promise<Farmer> {
  const manifests = new Set(files.map(f => parseCapability(f.link).manifestId))
  for (const f of g.farmers) {
    if (g.alive(f) && !spare.includes(f) && (await g.fragmentFiles(f)).some(p => !manifests.has(basename(p)))) return f
  }
  throw new Error('no live farmer holds a fragment of a segment')
}

const files: Array<{ path: string, digest: string, link: string }> = []

describe('keeper', () => {
  it('keeps three files whole through four farmers lost for good, one at a time', async () => {
    for (const [i, size] of [300_000, LIVE_SEGMENT + 12_345, 40_000].entries()) {
      const path = join(g.work, `kept-${i}.bin`)
      const digest = await writeRandomFile(path, size)
      files.push({ path, digest, link: (await g.put(path)).link })
    }
    const k = await startKeeper('keeper-churn', ['--grace', '2', '--data', join(g.work, 'keeper-churn')])
    const first = await waitFor(k, 'a first round over healthy files', m => m.get('shardfarm_keeper_files') === 3 && health(m, 'healthy') === 4)
    expect(first.get(REPAIRED)).toBe(0)
    let repaired = 0
    for (let loss = 0; loss < 4; loss++) {
      const victim = await holder()
      await g.kill(victim)
      await g.addFarmer(GRID_REGIONS[loss % GRID_REGIONS.length]!)
      const m = await waitFor(k, `the repair after loss ${loss + 1}`, m => (m.get(REPAIRED) ?? 0) > repaired && unhealthy(m) === 0 && health(m, 'healthy') === 4)
      repaired = m.get(REPAIRED)!
    }
    expect(repaired).toBeGreaterThanOrEqual(4)
    expect((await metrics(k)).get('shardfarm_keeper_repair_bytes_total{direction="out"}')).toBeGreaterThan(0)
    await stopChild(k.child, 10_000)
    // Four of the nine original farmers are gone: more than the two losses any segment survives.
    expect(g.farmers.filter(f => !g.alive(f))).toHaveLength(4)
    expect(await g.unreadable(files)).toEqual([])
  }, 150_000)

  it('counts a farmer back after an outage shorter than the grace period instead of repairing', async () => {
    const k = await startKeeper('keeper-grace', ['--grace', '60', '--data', join(g.work, 'keeper-grace')])
    // The four farmers lost above are still holders in the manifests: silent from the first round.
    const silent = (m: Map<string, number>): number =>
      (m.get('shardfarm_keeper_farmers_silent{state="in-grace"}') ?? 0) + (m.get('shardfarm_keeper_farmers_silent{state="gone"}') ?? 0)
    const before = await waitFor(k, 'a round over healthy files', m => health(m, 'healthy') === 4 && silent(m) === 4)
    const victim = await holder()
    await g.kill(victim)
    await waitFor(k, 'noticing the silent farmer', m => silent(m) === 5)
    await waitFor(k, 'another round with the farmer down', () => true)
    await g.restart(victim)
    const after = await waitFor(k, 'the farmer counted again', m => silent(m) === 4 && health(m, 'healthy') === 4)
    expect(after.get(REPAIRED)).toBe(before.get(REPAIRED))
    expect(after.get('shardfarm_keeper_repair_bytes_total{direction="out"}')).toBe(0)
    expect(after.get('shardfarm_keeper_audits_total{verdict="unreachable"}')).toBeGreaterThan(0)
    await stopChild(k.child, 10_000)
  }, 120_000)

  it('repairs a file it was given as a verify link alone, on a machine without its read key', async () => {
    const owner = join(g.work, 'owner-machine')
    const path = join(g.work, 'theirs.bin')
    await writeRandomFile(path, 200_000)
    const put = await g.cli(['put', path, '--json'], { env: { SHARDFARM_HOME: owner } })
    expect(put.code, put.stderr).toBe(0)
    const { link, verifyLink } = JSON.parse(put.out) as { link: string, verifyLink: string }
    const stat = JSON.parse((await g.cli(['stat', link, '--json'], { env: { SHARDFARM_HOME: owner } })).out) as { segments: Array<{ fragments: Array<{ reachable: string[] }> }> }
    const keeperHome = join(g.work, 'keeper-machine')
    await mkdir(keeperHome, { recursive: true })
    const keepData = join(keeperHome, 'keeper')
    const kept = await g.cli(['keep', verifyLink, '--keeper-data', keepData], { env: { SHARDFARM_HOME: keeperHome } })
    expect(kept.code, kept.stderr).toBe(0)
    const list = JSON.parse((await g.cli(['keep', '--list', '--json', '--keeper-data', keepData], { env: { SHARDFARM_HOME: keeperHome } })).out) as Array<{ link: string }>
    expect(list.map(e => e.link)).toEqual([verifyLink])
    const k = await startKeeper('keeper-verify', ['--grace', '2', '--data', keepData], keeperHome)
    await waitFor(k, 'a round over the kept file', m => m.get('shardfarm_keeper_files') === 1 && health(m, 'healthy') === 1)
    await g.kill(g.byPeer(stat.segments[0]!.fragments[0]!.reachable[0]!))
    const m = await waitFor(k, 'the repair', m => (m.get(REPAIRED) ?? 0) > 0 && health(m, 'healthy') === 1)
    expect(m.get(REPAIRED)).toBeGreaterThanOrEqual(1)
    await stopChild(k.child, 10_000)
    const check = await g.cli(['check', verifyLink, '--json'], { env: { SHARDFARM_HOME: keeperHome } })
    expect(check.code, check.stderr).toBe(0)
    expect((JSON.parse(check.out) as { healthy: boolean }).healthy).toBe(true)
  }, 120_000)
})
