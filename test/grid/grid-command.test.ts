// `shardfarm grid` as a user runs it: it prints the relay's address, the relay lists every farmer,
// Ctrl-C (SIGINT) stops all children cleanly, and children die with the grid even on SIGKILL.
import { execFileSync, spawn } from 'node:child_process'
import { readFile, stat } from 'node:fs/promises'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Libp2p } from '@libp2p/interface'
import { createNodeLibp2p } from '../../src/net/libp2p.node.ts'
import { TUNED_FLAGS } from '../../src/cli/tuning.ts'
import { localGridAnswer } from '../../src/cli/relay-address.ts'
import { Grid, waitForDirectory } from './helpers.ts'

const grid = new Grid()
let client: Libp2p
/** PIDs of every process `grid` started, killed in afterAll in case a test failed before they ended. */
const orphans: number[] = []

const childrenOf = (pid: number): number[] => {
  try {
    return execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number)
  } catch { return [] } // ps exits 1 when there are none
}
const alive = (pid: number): boolean => { try { process.kill(pid, 0); return true } catch { return false } }
async function waitGone (pids: number[], ms: number): Promise<number[]> {
  const until = Date.now() + ms
  while (pids.some(alive) && Date.now() < until) await new Promise(resolve => setTimeout(resolve, 100))
  return pids.filter(alive)
}

beforeAll(async () => {
  await grid.init()
  // The grid records its relay in the config folder: a test folder, never the person's own.
  process.env.SHARDFARM_CONFIG = join(grid.root, 'config')
  client = await createNodeLibp2p()
})

afterAll(async () => {
  for (const pid of orphans) if (alive(pid)) process.kill(pid, 'SIGKILL')
  await client?.stop()
  await grid.destroy()
})

describe('shardfarm grid', () => {
  it('starts a relay and N farmers in regions, and stops them all on SIGINT', async () => {
    const root = join(grid.root, 'a')
    const g = await grid.start('grid', ['grid', '--farmers', '3', '--data', root])
    expect(g.addr).toMatch(/^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/ws\/p2p\//)
    expect((await readFile(join(root, 'relay.addr'), 'utf8')).trim()).toBe(g.addr)
    const recorded = join(grid.root, 'config', 'local-grid.addr')
    expect((await readFile(recorded, 'utf8')).trim()).toBe(g.addr)
    expect((await stat(recorded)).mode & 0o777).toBe(0o600)
    expect((await stat(join(grid.root, 'config'))).mode & 0o777).toBe(0o700)
    const kids = childrenOf(g.pid)
    orphans.push(...kids)
    expect(kids).toHaveLength(4)
    const listings = await waitForDirectory(client, g.addr, l => l.length === 3)
    expect(listings.map(l => l.region).sort()).toEqual(['eu-central', 'eu-west', 'us-east'])
    for (const pid of kids) { // the relay and farmers run with the same tuning as the CLI
      const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0')
      const environ = (await readFile(`/proc/${pid}/environ`, 'utf8')).split('\0')
      expect(cmdline).toEqual(expect.arrayContaining([...TUNED_FLAGS]))
      expect(environ).toContain('MALLOC_ARENA_MAX=2')
    }

    g.child.kill('SIGINT')
    expect(await g.exited).toBe(0)
    expect(await waitGone(kids, 5_000)).toEqual([])
    expect(g.logs.some(l => l.includes('"proc":"farmer-2"') && l.includes('"msg":"stopped"'))).toBe(true)
    await expect(readFile(join(root, 'relay.addr'))).rejects.toMatchObject({ code: 'ENOENT' })
    await expect(readFile(recorded)).rejects.toMatchObject({ code: 'ENOENT' })
  })

  it('with --relays 2, records both relays, one a line, for the app\'s /grid.json and the file commands', async () => {
    const root = join(grid.root, 'c')
    const g = await grid.start('grid', ['grid', '--farmers', '1', '--relays', '2', '--data', root])
    orphans.push(...childrenOf(g.pid))
    const relays = g.addr.split(' ')
    expect(relays).toHaveLength(2)
    expect(await localGridAnswer(root)).toEqual({ relay: relays[0], relays })
    expect(await localGridAnswer('')).toEqual({ relay: relays[0], relays }) // the config folder's copy
    g.child.kill('SIGINT')
    expect(await g.exited).toBe(0)
    expect(await localGridAnswer('')).toBeUndefined()
  })

  it('children stop by themselves when the grid is SIGKILLed', async () => {
    const g = await grid.start('grid', ['grid', '--farmers', '2', '--data', join(grid.root, 'b')])
    const kids = childrenOf(g.pid)
    orphans.push(...kids)
    expect(kids).toHaveLength(3)
    g.child.kill('SIGKILL')
    await g.exited
    expect(await waitGone(kids, 10_000)).toEqual([])
  })
  it('the launcher runs a command in its own pid, with the memory tuning applied', async () => {
    const bin = fileURLToPath(new URL('../../bin/shardfarm.js', import.meta.url))
    const env = { ...process.env }
    delete env.SHARDFARM_TUNED
    delete env.MALLOC_ARENA_MAX
    const child = spawn(process.execPath, [bin, 'relay', '--data', join(grid.root, 'tuned')], { env, stdio: ['ignore', 'pipe', 'ignore'] })
    orphans.push(child.pid!)
    const exited = new Promise(resolve => child.once('exit', resolve))
    const addr = await new Promise<string>(resolve => createInterface({ input: child.stdout }).once('line', resolve))
    expect(addr).toMatch(/\/p2p\//)
    // Same pid (execve, no wrapper process), and the settings only a fresh process start can take.
    const environ = (await readFile(`/proc/${child.pid}/environ`, 'utf8')).split('\0')
    const cmdline = (await readFile(`/proc/${child.pid}/cmdline`, 'utf8')).split('\0')
    expect(environ).toContain('MALLOC_ARENA_MAX=2')
    expect(cmdline).toEqual(expect.arrayContaining([...TUNED_FLAGS]))
    expect(childrenOf(child.pid!)).toEqual([])
    child.kill('SIGTERM')
    expect(await exited).toBe(0)
  })
})
