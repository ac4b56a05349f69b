// Where the CLI finds the relay and keeps its keys: never the working directory.
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { clientHome } from '../client/session.node.ts'
import { configHome, forgetLocalGrid, LOCAL_GRID_FILE, RELAY_CONFIG_FILE, resolveRelay, saveLocalGrid } from './relay-address.ts'

const VARS = ['SHARDFARM_RELAY', 'SHARDFARM_CONFIG', 'SHARDFARM_HOME', 'XDG_CONFIG_HOME', 'XDG_DATA_HOME', 'HOME'] as const
let saved: Record<string, string | undefined>
let root: string
let cwd: string

beforeEach(async () => {
  saved = Object.fromEntries(VARS.map(v => [v, process.env[v]]))
  for (const v of VARS) delete process.env[v]
  root = await mkdtemp(join(tmpdir(), 'shardfarm-where-'))
  process.env.HOME = join(root, 'home')
  cwd = process.cwd()
  await mkdir(join(root, 'repo', '.shardfarm'), { recursive: true })
  await writeFile(join(root, 'repo', '.shardfarm', 'relay.addr'), '/ip4/203.0.113.9/tcp/1/ws\n')
  process.chdir(join(root, 'repo'))
})
afterEach(async () => {
  process.chdir(cwd)
  for (const v of VARS) { if (saved[v] === undefined) delete process.env[v]; else process.env[v] = saved[v] }
  await rm(root, { recursive: true, force: true })
})

describe('where the CLI looks', () => {
  it('keeps its data under XDG_DATA_HOME or ~/.local/share, SHARDFARM_HOME first', () => {
    expect(clientHome()).toBe(join(root, 'home', '.local', 'share', 'shardfarm'))
    process.env.XDG_DATA_HOME = 'relative/ignored' // the XDG spec: relative paths are invalid
    expect(clientHome()).toBe(join(root, 'home', '.local', 'share', 'shardfarm'))
    process.env.XDG_DATA_HOME = join(root, 'data')
    expect(clientHome()).toBe(join(root, 'data', 'shardfarm'))
    process.env.SHARDFARM_HOME = join(root, 'mine')
    expect(clientHome()).toBe(join(root, 'mine'))
  })

  it('finds config under XDG_CONFIG_HOME or ~/.config, SHARDFARM_CONFIG first', () => {
    expect(configHome()).toBe(join(root, 'home', '.config', 'shardfarm'))
    process.env.XDG_CONFIG_HOME = join(root, 'cfg')
    expect(configHome()).toBe(join(root, 'cfg', 'shardfarm'))
    process.env.SHARDFARM_CONFIG = join(root, 'test-config')
    expect(configHome()).toBe(join(root, 'test-config'))
  })

  it('takes the relay from the flag, SHARDFARM_RELAY, the config relay, the local grid; never ./.shardfarm', async () => {
    await expect(resolveRelay(undefined)).rejects.toMatchObject({ code: 'USAGE', message: expect.stringMatching(/no grid found/) })
    await saveLocalGrid('/ip4/127.0.0.1/tcp/4001/ws')
    const dir = configHome()
    expect((await stat(dir)).mode & 0o777).toBe(0o700)
    expect((await stat(join(dir, LOCAL_GRID_FILE))).mode & 0o777).toBe(0o600)
    expect(await resolveRelay(undefined)).toBe('/ip4/127.0.0.1/tcp/4001/ws')
    await writeFile(join(dir, RELAY_CONFIG_FILE), '/dns4/relay.example/tcp/443/wss\n')
    expect(await resolveRelay(undefined)).toBe('/dns4/relay.example/tcp/443/wss')
    process.env.SHARDFARM_RELAY = '/ip4/10.0.0.1/tcp/1/ws'
    expect(await resolveRelay(undefined)).toBe('/ip4/10.0.0.1/tcp/1/ws')
    expect(await resolveRelay('/ip4/10.0.0.2/tcp/2/ws')).toBe('/ip4/10.0.0.2/tcp/2/ws')
  })

  it('forgets the local grid only while the address is still its own', async () => {
    await saveLocalGrid('/ip4/127.0.0.1/tcp/1/ws')
    await saveLocalGrid('/ip4/127.0.0.1/tcp/2/ws') // a second grid started since
    await forgetLocalGrid('/ip4/127.0.0.1/tcp/1/ws')
    expect((await readFile(join(configHome(), LOCAL_GRID_FILE), 'utf8')).trim()).toBe('/ip4/127.0.0.1/tcp/2/ws')
    await forgetLocalGrid('/ip4/127.0.0.1/tcp/2/ws')
    await expect(readFile(join(configHome(), LOCAL_GRID_FILE))).rejects.toMatchObject({ code: 'ENOENT' })
  })
})
