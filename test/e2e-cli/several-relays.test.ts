// A grid with three relays (not federated: every farmer announces to each relay it is given) and
// seven farmer processes, six on all three relays and one on two. Then two relays are SIGKILLed:
// the CLI, given all three relays with a dead one first, still puts and gets 10 MiB; the farmer
// given two relays stays listed on the survivor; `shardfarm farmers --json` lists the grid and
// says which relays list each farmer.
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { GRID_REGIONS } from '../../src/cli/grid.ts'
import { createNodeLibp2p } from '../../src/net/libp2p.node.ts'
import { peerOf, waitForDirectory, type TestChild } from '../grid/helpers.ts'
import { CliGrid, MiB, sha256File, writeRandomFile } from './cli-grid.ts'

const g = new CliGrid()
const relays: TestChild[] = []
const farmers: TestChild[] = []
let twoRelayFarmer = ''
let policy = ''

interface FarmersJson { farmers: Array<{ peerId: string, region: string, tier: string, kind: string, free: number, firstSeen?: number, relays: string[] }> }

/** `shardfarm farmers --json` with `args`: the last stdout line, parsed. */
async function listFarmers (args: string[]): Promise<FarmersJson> {
  const r = await g.cli(['farmers', ...args, '--json'])
  expect(r.code, r.stderr).toBe(0)
  return JSON.parse(r.out.split('\n').at(-1)!) as FarmersJson
}

beforeAll(async () => {
  await g.grid.init()
  g.home = join(g.grid.root, 'client')
  g.config = join(g.grid.root, 'config')
  g.work = join(g.grid.root, 'work')
  await Promise.all([mkdir(g.config, { mode: 0o700 }), mkdir(g.work)])
  policy = join(g.work, 'policy.json')
  await writeFile(policy, JSON.stringify({ name: 't', k: 4, m: 2 }))
  for (let i = 0; i < 3; i++) {
    relays.push(await g.grid.start(`relay-${i}`, ['relay', '--data', join(g.grid.root, `relay-${i}`), '--directory-ttl', '10000',
      '--vetting-period', '0s', '--shared-subnets']))
  }
  const all = relays.flatMap(r => ['--relay', r.addr])
  farmers.push(...await Promise.all(Array.from({ length: 6 }, async (_, i) => await g.grid.start(`farmer-${i}`, ['farmer', '--data', join(g.grid.root, `farmer-${i}`), ...all,
    '--region', GRID_REGIONS[i % GRID_REGIONS.length]!, '--heartbeat', '1000']))))
  // The survivor first: a farmer that kept only its last --relay would be on relay 0, which dies.
  const two = await g.grid.start('farmer-6', ['farmer', '--data', join(g.grid.root, 'farmer-6'), '--relay', relays[2]!.addr, '--relay', relays[0]!.addr,
    '--region', GRID_REGIONS[0]!, '--heartbeat', '1000'])
  farmers.push(two)
  twoRelayFarmer = peerOf(two.addr)
  g.node = await createNodeLibp2p()
  for (const [i, r] of relays.entries()) {
    const want = i === 1 ? 6 : 7
    const listed = await waitForDirectory(g.node, r.addr, l => l.length === want, 20_000)
    expect(listed.length, `relay ${i}`).toBe(want)
  }
}, 120_000)
afterAll(async () => { await g.destroy() })

describe('several relays', () => {
  it('`shardfarm farmers --json` lists every farmer once, with the relays that list it', async () => {
    const { farmers: rows } = await listFarmers(relays.flatMap(r => ['--relay', r.addr]))
    expect(rows.map(r => r.peerId).sort()).toEqual(farmers.map(f => peerOf(f.addr)).sort())
    for (const row of rows) {
      expect(row).toMatchObject({ tier: 'live', kind: 'full' })
      expect(row.free).toBeGreaterThan(0)
      expect(typeof row.firstSeen).toBe('number')
      const want = row.peerId === twoRelayFarmer ? [relays[0]!.addr, relays[2]!.addr] : relays.map(r => r.addr)
      expect(row.relays.sort()).toEqual(want.sort())
    }
    expect(new Set(rows.map(r => r.region))).toEqual(new Set(GRID_REGIONS))
  }, 60_000)

  it('with two of three relays SIGKILLed, put and get of 10 MiB succeed and the two-relay farmer is still listed', async () => {
    const src = join(g.work, 'ten.bin')
    const hash = await writeRandomFile(src, 10 * MiB)
    for (const r of [relays[0]!, relays[1]!]) {
      process.kill(r.pid, 'SIGKILL')
      await r.exited
    }
    const killedAt = Date.now()
    // A dead relay first and last: a client that asked only one of them would find no farmer.
    const given = ['--relay', relays[0]!.addr, '--relay', relays[2]!.addr, '--relay', relays[1]!.addr]
    const put = await g.cli(['put', src, '--policy', policy, '--json', ...given])
    expect(put.code, put.stderr).toBe(0)
    const { link } = JSON.parse(put.out) as { link: string }
    const out = join(g.work, 'ten.out')
    const get = await g.cli(['get', link, '-o', out, ...given])
    expect(get.code, get.stderr).toBe(0)
    expect(await sha256File(out)).toBe(hash)

    // Past the directory's TTL (10 s) since the kill: a listing left from before would be gone by now.
    await new Promise(resolve => setTimeout(resolve, Math.max(0, killedAt + 11_000 - Date.now())))
    const { farmers: rows } = await listFarmers(given)
    expect(rows.map(r => r.peerId).sort()).toEqual(farmers.map(f => peerOf(f.addr)).sort())
    expect(rows.find(r => r.peerId === twoRelayFarmer)?.relays).toEqual([relays[2]!.addr])
  }, 180_000)
})
