// Churn under the `live` preset itself (6 + 12, repaired at 16 of 18), with real processes: a relay,
// 18 farmers, `shardfarm keeper` and ten files put through the CLI. Five times over, three farmers
// that hold fragments are SIGKILLed at once (every segment falls to 15, under its threshold) and
// three empty ones join; the keeper repairs every segment back to 18 each time. Fifteen of the 18
// first farmers are lost for good, more than the 12 a segment survives without repair (only 3 of
// the fragments first stored are left); every file then reads back byte-identical.
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { spawnShardfarm, stopChild } from '../../src/cli/spawn.ts'
import { GRID_REGIONS } from '../../src/cli/grid.ts'
import { POLICIES } from '../../src/core/policy.ts'
import type { TestChild } from '../grid/helpers.ts'
import { CliGrid, keeperMetrics, writeRandomFile, type Farmer } from './cli-grid.ts'

const LIVE = POLICIES.live
const FARMERS = LIVE.k + LIVE.m
const ROUNDS = 5
const LOST_PER_ROUND = 3

const g = new CliGrid()
beforeAll(async () => { await g.start(FARMERS) }, 180_000)
afterAll(async () => { await g.destroy() })

const health = (m: Map<string, number>, h: string): number => m.get(`shardfarm_keeper_segments{health="${h}"}`) ?? 0
const REPAIRED = 'shardfarm_keeper_fragments_repaired_total'
const ROUNDS_TOTAL = 'shardfarm_keeper_rounds_total'

describe('keeper, live preset', () => {
  it(`keeps ten live files whole through ${ROUNDS} rounds of ${LOST_PER_ROUND} farmers lost at once`, async () => {
    const files: Array<{ path: string, digest: string, link: string, segments: number }> = []
    for (let i = 0; i < 10; i++) {
      const path = join(g.work, `live-${i}.bin`)
      const digest = await writeRandomFile(path, 40_000 + i * 150_000)
      const put = await g.put(path, ['--policy', 'live'])
      expect(put.policy).toBe('live')
      files.push({ path, digest, link: put.link, segments: put.segments })
    }
    const segments = files.reduce((n, f) => n + f.segments, 0)

    const logs: string[] = []
    const c = await spawnShardfarm(['keeper', '--http', '127.0.0.1:0', '--interval', '1', '--audits-per-hour', '1000000', '--grace', '2', '--data', join(g.work, 'keeper')], {
      name: 'keeper-live', stderr: 'pipe', onStderr: line => { logs.push(line); if (logs.length > 400) logs.shift() },
      env: { SHARDFARM_HOME: g.home, SHARDFARM_CONFIG: g.config, SHARDFARM_RELAY: '', SHARDFARM_FROM_SOURCE: '1' }
    })
    const keeper = Object.assign(c, { logs, name: 'keeper-live' }) as TestChild
    g.grid.children.push(keeper) // killed by PID in destroy() whatever happens
    const waitFor = async (what: string, done: (m: Map<string, number>) => boolean, timeoutMs = 90_000): Promise<Map<string, number>> => {
      const until = Date.now() + timeoutMs
      const from = (await keeperMetrics(keeper.addr)).get(ROUNDS_TOTAL) ?? 0
      let m = new Map<string, number>()
      while (Date.now() < until) {
        m = await keeperMetrics(keeper.addr)
        if ((m.get(ROUNDS_TOTAL) ?? 0) > from && done(m)) return m
        await new Promise(resolve => setTimeout(resolve, 250))
      }
      throw new Error(`keeper: ${what} did not happen within ${timeoutMs} ms\n${JSON.stringify([...m])}\n${logs.slice(-30).join('\n')}`)
    }
    const whole = (m: Map<string, number>): boolean => health(m, 'healthy') === segments && health(m, 'degraded') + health(m, 'at-risk') + health(m, 'lost') === 0

    const first = await waitFor('a first round over healthy files', m => m.get('shardfarm_keeper_files') === files.length && whole(m))
    expect(first.get(REPAIRED)).toBe(0)
    let repaired = 0
    const lost: Farmer[] = []
    for (let round = 0; round < ROUNDS; round++) {
      // Every farmer alive holds a fragment of every segment (18 farmers, 18 fragments): any three will do.
      const victims = g.farmers.filter(f => g.alive(f)).slice(0, LOST_PER_ROUND)
      await Promise.all(victims.map(async f => { await g.kill(f) }))
      lost.push(...victims)
      for (let i = 0; i < LOST_PER_ROUND; i++) await g.addFarmer(GRID_REGIONS[(round * LOST_PER_ROUND + i) % GRID_REGIONS.length]!)
      const m = await waitFor(`the repairs after round ${round + 1}`, m => (m.get(REPAIRED) ?? 0) >= repaired + LOST_PER_ROUND * segments && whole(m))
      repaired = m.get(REPAIRED)!
    }
    expect(lost).toHaveLength(ROUNDS * LOST_PER_ROUND)
    expect(new Set(lost.map(f => f.peerId)).size).toBeGreaterThan(LIVE.m) // more than a segment survives unrepaired, all gone for good
    expect(repaired).toBeGreaterThanOrEqual(ROUNDS * LOST_PER_ROUND * segments)
    await stopChild(keeper, 10_000)
    expect(await g.unreadable(files)).toEqual([])
  }, 600_000)
})
