// Where the CLI keeps keys and where it finds the grid, run as a user runs it: read keys and owner
// seeds live in the person's data directory (XDG, private to them), never in the working
// directory where they are easy to commit; the relay comes from the flag, SHARDFARM_RELAY or the
// person's config, never from a `.shardfarm/relay.addr` a cloned repository could plant.
import { spawn } from 'node:child_process'
import { mkdir, mkdtemp, readdir, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { LOCAL_GRID_FILE } from '../../src/cli/relay-address.ts'
import { OwnerIndex } from '../../src/client/owner-index.ts'
import { nodeKeyValueStore } from '../../src/client/session.node.ts'
import { parseCapability } from '../../src/core/capability.ts'
import { BIN, CliGrid, type CliResult } from './cli-grid.ts'
import { withTestPolicy } from '../support/test-policy.ts'

const g = new CliGrid()
beforeAll(async () => { await g.start(6) })
afterAll(async () => { await g.destroy() })

/** A fresh, empty folder under the test's root. */
async function fresh (name: string): Promise<string> {
  return await mkdtemp(join(g.grid.root, `${name}-`))
}

/**
 * `shardfarm ...args` in `cwd`, with no SHARDFARM_HOME or SHARDFARM_CONFIG: the defaults apply, under
 * an XDG data and config folder and a HOME of the test's own (never the person running it).
 */
async function run (cwd: string, args: string[], env: Record<string, string>): Promise<CliResult> {
  const child = spawn(process.execPath, [BIN, ...withTestPolicy(args)], {
    cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, SHARDFARM_HOME: '', SHARDFARM_CONFIG: '', SHARDFARM_RELAY: '', SHARDFARM_GRID: '', SHARDFARM_FROM_SOURCE: '1', ...env }
  })
  const stdout: Buffer[] = []
  let stderr = ''
  child.stdout.on('data', (b: Buffer) => stdout.push(b))
  child.stderr.on('data', (b: Buffer) => { stderr += b.toString() })
  const timer = setTimeout(() => child.kill('SIGKILL'), 120_000)
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>(resolve => child.once('close', (c, s) => { resolve([c, s]) }))
  clearTimeout(timer)
  const buf = Buffer.concat(stdout)
  return { code, signal, stdout: buf, stderr, out: buf.toString().trim() }
}

/** Every path under `dir` with its permission bits, folders marked with a trailing slash. */
async function modes (dir: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {}
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    const path = join(entry.parentPath, entry.name)
    out[path.slice(dir.length + 1) + (entry.isDirectory() ? '/' : '')] = (await stat(path)).mode & 0o777
  }
  return out
}

/** A person's machine: HOME, XDG data and config folders, the last one knowing the local grid. */
async function machine (): Promise<{ env: Record<string, string>, home: string, data: string, config: string }> {
  const root = await fresh('machine')
  const env = { HOME: join(root, 'home'), XDG_DATA_HOME: join(root, 'data'), XDG_CONFIG_HOME: join(root, 'config') }
  await mkdir(join(env.XDG_CONFIG_HOME, 'shardfarm'), { recursive: true })
  await writeFile(join(env.XDG_CONFIG_HOME, 'shardfarm', LOCAL_GRID_FILE), g.relay.addr + '\n')
  return { env, home: env.HOME, data: join(env.XDG_DATA_HOME, 'shardfarm'), config: join(env.XDG_CONFIG_HOME, 'shardfarm') }
}

describe('key hygiene of the CLI', () => {
  it('put in a fresh working directory writes nothing there; its index is in the data directory, 0700/0600', async () => {
    const m = await machine()
    const cwd = await fresh('cwd')
    const src = join(g.work, 'hygiene.txt')
    await writeFile(src, 'kept where it belongs\n')
    const put = await run(cwd, ['put', src], m.env)
    expect(put.code, put.stderr).toBe(0)
    expect(put.out).toMatch(/^shardfarm:r2:\S+$/)
    expect(await readdir(cwd)).toEqual([]) // no .shardfarm, nothing at all
    await expect(stat(m.home)).rejects.toMatchObject({ code: 'ENOENT' }) // the XDG folders win over ~/.local, ~/.config
    expect((await stat(m.data)).mode & 0o777).toBe(0o700)
    const all = await modes(m.data)
    expect(Object.keys(all).some(p => p.startsWith('store/files/'))).toBe(true)
    for (const [path, mode] of Object.entries(all)) expect([path, mode]).toEqual([path, path.endsWith('/') ? 0o700 : 0o600])
    const entry = await new OwnerIndex(nodeKeyValueStore(m.data)).find(parseCapability(put.out).manifestId)
    expect(entry?.ownerSeed).toMatch(/^[A-Za-z0-9+/]{43}=$/)
    // ls from another folder sees the same index: it is the person's, not the folder's.
    const ls = await run(await fresh('elsewhere'), ['ls', '--json'], m.env)
    expect(ls.code, ls.stderr).toBe(0)
    expect(JSON.parse(ls.out)).toContainEqual(expect.objectContaining({ name: 'hygiene.txt', link: put.out }))
  })

  it('ignores a relay.addr planted in the working directory', async () => {
    const cwd = await fresh('cloned-repo')
    await mkdir(join(cwd, '.shardfarm'))
    // A planted address that would work: if the CLI read it, the put would succeed.
    await writeFile(join(cwd, '.shardfarm', 'relay.addr'), g.relay.addr + '\n')
    const src = join(g.work, 'planted.txt')
    await writeFile(src, 'goes nowhere\n')
    const m = await machine()
    const nothing = { ...m.env, XDG_CONFIG_HOME: join(await fresh('no-config'), 'config') }
    const refused = await run(cwd, ['put', src], nothing)
    expect(refused.code).toBe(2)
    expect(refused.stderr).toMatch(/no grid found/)
    expect(await readdir(cwd)).toEqual(['.shardfarm'])
    expect(await readdir(join(cwd, '.shardfarm'))).toEqual(['relay.addr'])

    // With the grid in the person's config (XDG_CONFIG_HOME), the same command goes there.
    const put = await run(cwd, ['put', src], m.env)
    expect(put.code, put.stderr).toBe(0)
    expect(await readdir(join(cwd, '.shardfarm'))).toEqual(['relay.addr'])
  })

  it('says where an older version left keys in ./.shardfarm/client, and leaves them there', async () => {
    const m = await machine()
    const cwd = await fresh('old-checkout')
    const old = join(cwd, '.shardfarm', 'client', 'store', 'files')
    await mkdir(old, { recursive: true })
    await writeFile(join(old, 'entry.v'), 'an owner key of an older version')
    const ls = await run(cwd, ['ls'], m.env)
    expect(ls.code, ls.stderr).toBe(0)
    expect(ls.stderr).toContain(join(cwd, '.shardfarm', 'client'))
    expect(ls.stderr).toContain(`mv '${join(cwd, '.shardfarm', 'client', 'store')}' '${join(m.data, 'store')}'`)
    expect(await readFile(join(old, 'entry.v'), 'utf8')).toBe('an owner key of an older version')
  })
})
