// The storage presets, as the durability model chose them, on the grid `shardfarm start` runs: a
// relay and START_FARMERS farmers over three regions, START_PER_PROCESS to a process. Each preset
// puts a file through the CLI (a real child process) and gets it back byte-identical; `stat` shows
// the preset's code, repair threshold and spread on the farmers that hold it.
import { mkdtemp, rm } from 'node:fs/promises'
import { spawn } from 'node:child_process'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { spawnShardfarm, stopChild, type ShardfarmChild } from '../../src/cli/spawn.ts'
import { START_FARMERS, START_PER_PROCESS } from '../../src/cli/start.ts'
import { GRID_REGIONS } from '../../src/cli/grid.ts'
import { POLICIES } from '../../src/core/policy.ts'
import { BIN, MiB, sha256File, writeRandomFile } from './cli-grid.ts'

let root = ''
let grid: ShardfarmChild | undefined
/** Farmer peer id → region, from the directory (`shardfarm farmers --json`). */
const regionOf = new Map<string, string>()

interface Run { code: number | null, out: string, stderr: string }

/** `shardfarm ...args` against the grid, with the client's folders under `root`. */
async function cli (args: string[]): Promise<Run> {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, SHARDFARM_HOME: join(root, 'client'), SHARDFARM_CONFIG: join(root, 'config'), SHARDFARM_RELAY: '', SHARDFARM_RELAYS: '', SHARDFARM_FROM_SOURCE: '1' }
  })
  let out = ''
  let stderr = ''
  child.stdout.on('data', (b: Buffer) => { out += b.toString() })
  child.stderr.on('data', (b: Buffer) => { stderr += b.toString() })
  const timer = setTimeout(() => child.kill('SIGKILL'), 150_000)
  const code = await new Promise<number | null>(resolve => child.once('close', c => { resolve(c) }))
  clearTimeout(timer)
  return { code, out: out.trim(), stderr }
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'shardfarm-presets-'))
  const log: string[] = [] // the grid's last log lines, to say why it did not start
  grid = await spawnShardfarm(['grid', '--farmers', String(START_FARMERS), '--per-process', String(START_PER_PROCESS), '--data', join(root, 'grid')], {
    name: 'grid', stderr: 'pipe', onStderr: line => { log.push(line.slice(0, 500)); if (log.length > 20) log.shift() }, env: { SHARDFARM_CONFIG: join(root, 'config') }, readyTimeoutMs: 150_000
  }).catch((err: Error) => { throw new Error(`${err.message}:\n${log.join('\n')}`) })
  // Every farmer listed before the first put, with its region.
  const until = Date.now() + 60_000
  while (Date.now() < until) {
    const r = await cli(['farmers', '--json'])
    const listed = r.code === 0 ? (JSON.parse(r.out) as { farmers: Array<{ peerId: string, region: string }> }).farmers : []
    if (listed.length >= START_FARMERS) {
      for (const f of listed) regionOf.set(f.peerId, f.region)
      break
    }
    await new Promise(resolve => setTimeout(resolve, 1000))
  }
  expect(regionOf.size).toBe(START_FARMERS)
}, 300_000)

afterAll(async () => {
  if (grid !== undefined) await stopChild(grid)
  if (root !== '') await rm(root, { recursive: true, force: true })
}, 60_000)

interface StatJson {
  policy: { name: string, k: number, m: number, repairAt: number, onFull: number, kinds: string }
  segments: Array<{ status: string, fragments: Array<{ holders: string[] }> }>
}

describe('the presets on the grid `shardfarm start` runs', () => {
  it('has room for every preset: archive over 3 regions, with farmers to spare', () => {
    const { k, m } = POLICIES.archive
    expect(START_FARMERS).toBeGreaterThan(k + m)
    expect(new Set(regionOf.values())).toEqual(new Set(GRID_REGIONS))
  })

  for (const name of ['live', 'archive', 'mixed'] as const) {
    it(`${name} (${POLICIES[name].k} + ${POLICIES[name].m}) puts and gets a file byte-identically, each fragment of a segment on its own farmer`, async () => {
      const preset = POLICIES[name]
      const src = join(root, `${name}.bin`)
      // Two segments and a part: 2k + 1 shards of 1 MiB less the tags, so the last segment is short.
      const size = (2 * preset.k + 1) * MiB
      const digest = await writeRandomFile(src, size)
      const put = await cli(['put', src, '--policy', name, '--json'])
      expect(put.code, put.stderr).toBe(0)
      const { link, policy, segments } = JSON.parse(put.out) as { link: string, policy: string, segments: number }
      expect(policy).toBe(name)
      expect(segments).toBe(3)

      const stat = await cli(['stat', link, '--json'])
      expect(stat.code, stat.stderr).toBe(0)
      const st = JSON.parse(stat.out) as StatJson
      expect(st.policy).toMatchObject({ name, k: preset.k, m: preset.m, repairAt: preset.repairAt })
      for (const seg of st.segments) {
        expect(seg.status).toBe('healthy')
        const holders = seg.fragments.map(f => f.holders[0]!)
        expect(new Set(holders).size).toBe(preset.k + preset.m)
        if (name === 'archive') expect(new Set(holders.map(h => regionOf.get(h))).size).toBeGreaterThanOrEqual(3)
      }

      const out = join(root, `${name}.out`)
      const got = await cli(['get', link, '-o', out])
      expect(got.code, got.stderr).toBe(0)
      expect(await sha256File(out)).toBe(digest)
    }, 300_000)
  }
})
