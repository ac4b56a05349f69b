// Where the CLI finds the relay and keeps its keys: never the working directory.
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { clientHome, LEARNED_RELAYS_FILE, learnedRelays, saveLearnedRelays } from '../client/session.node.ts'
import { configHome, farmerRelays, forgetLocalGrid, LOCAL_GRID_FILE, localGridAnswer, RELAY_CONFIG_FILE, resolveRelay, resolveRelays, saveLocalGrid, takeRelayFlags } from './relay-address.ts'

const A = '/ip4/127.0.0.1/tcp/4001/ws'
const B = '/ip4/127.0.0.1/tcp/4002/ws'

const VARS = ['SHARDFARM_RELAY', 'SHARDFARM_RELAYS', 'SHARDFARM_CONFIG', 'SHARDFARM_HOME', 'XDG_CONFIG_HOME', 'XDG_DATA_HOME', 'HOME'] as const
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
  takeRelayFlags([])
})
afterEach(async () => {
  takeRelayFlags([])
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
    expect(await resolveRelay(undefined)).toEqual(['/ip4/127.0.0.1/tcp/4001/ws'])
    await writeFile(join(dir, RELAY_CONFIG_FILE), '/dns4/relay.example/tcp/443/wss\n')
    expect(await resolveRelay(undefined)).toEqual(['/dns4/relay.example/tcp/443/wss'])
    process.env.SHARDFARM_RELAY = '/ip4/10.0.0.1/tcp/1/ws'
    expect(await resolveRelay(undefined)).toEqual(['/ip4/10.0.0.1/tcp/1/ws'])
    expect(await resolveRelay('/ip4/10.0.0.2/tcp/2/ws')).toEqual(['/ip4/10.0.0.2/tcp/2/ws'])
  })

  it('takes a list: every --relay in order, else SHARDFARM_RELAYS, else one address a line in the config', async () => {
    const dir = configHome()
    await mkdir(dir, { recursive: true })
    await writeFile(join(dir, RELAY_CONFIG_FILE), '/ip4/10.0.0.5/tcp/5/ws\n/ip4/10.0.0.6/tcp/6/ws\n')
    expect(await resolveRelays()).toEqual(['/ip4/10.0.0.5/tcp/5/ws', '/ip4/10.0.0.6/tcp/6/ws'])
    process.env.SHARDFARM_RELAY = '/ip4/10.0.0.1/tcp/1/ws'
    process.env.SHARDFARM_RELAYS = '/ip4/10.0.0.3/tcp/3/ws, /ip4/10.0.0.4/tcp/4/ws'
    expect(await resolveRelays()).toEqual(['/ip4/10.0.0.3/tcp/3/ws', '/ip4/10.0.0.4/tcp/4/ws'])
    // parseArgs keeps only the last of a repeated flag; the command line's own list wins over it.
    expect(takeRelayFlags(['put', 'f', '--relay', '/ip4/10.0.0.7/tcp/7/ws', '--json', '--relay=/ip4/10.0.0.8/tcp/8/ws'])).toHaveLength(2)
    expect(await resolveRelays('/ip4/10.0.0.8/tcp/8/ws')).toEqual(['/ip4/10.0.0.7/tcp/7/ws', '/ip4/10.0.0.8/tcp/8/ws'])
    takeRelayFlags([])
    process.env.SHARDFARM_RELAYS = '/ip4/10.0.0.3/tcp/3/ws,not-a-multiaddr'
    await expect(resolveRelays()).rejects.toMatchObject({ code: 'USAGE', message: expect.stringMatching(/SHARDFARM_RELAYS: not a multiaddr: "not-a-multiaddr"/) })
  })

  it('a farmer takes up to 8 relays, each ending in its peer id', () => {
    const r = (i: number): string => `/ip4/10.0.0.${i}/tcp/1/ws/p2p/12D3KooWGzxzKZYveHXtpG6AsrUJBcWxHBFS2HsEoGTxrMLvKXtf`
    expect(farmerRelays([r(1), r(2), r(1)])).toEqual([r(1), r(2)])
    expect(() => farmerRelays(['/ip4/10.0.0.1/tcp/1/ws'])).toThrow(/must end in \/p2p\//)
    expect(() => farmerRelays(Array.from({ length: 9 }, (_, i) => r(i)))).toThrow(/at most 8 relays/)
  })

  it('caches learned relays per grid, private and capped', async () => {
    const home = clientHome()
    const a = ['/ip4/10.0.0.1/tcp/1/ws']
    const b = ['/ip4/10.0.0.2/tcp/2/ws']
    await saveLearnedRelays(home, a, ['/ip4/10.0.1.1/tcp/1/ws', a[0]!])
    await saveLearnedRelays(home, b, ['/ip4/10.0.2.1/tcp/1/ws'])
    expect(await learnedRelays(home, a)).toEqual(['/ip4/10.0.1.1/tcp/1/ws']) // never the given relay itself
    expect(await learnedRelays(home, b)).toEqual(['/ip4/10.0.2.1/tcp/1/ws']) // one grid's relays stay its own
    expect((await stat(join(home, LEARNED_RELAYS_FILE))).mode & 0o777).toBe(0o600)
    await saveLearnedRelays(home, a, Array.from({ length: 40 }, (_, i) => `/ip4/10.0.3.${i}/tcp/1/ws`))
    const kept = await learnedRelays(home, a)
    expect(kept).toHaveLength(16)
    expect(kept.at(-1)).toBe('/ip4/10.0.3.39/tcp/1/ws')
    for (let i = 0; i < 12; i++) await saveLearnedRelays(home, [`/ip4/10.9.0.${i}/tcp/1/ws`], ['/ip4/10.0.4.1/tcp/1/ws'])
    expect(await learnedRelays(home, a)).toEqual([]) // only the 8 newest grids are kept
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

describe('localGridAnswer (/grid.json)', () => {
  it('names every relay the grid wrote, in order, and its keeper when the address is plain http', async () => {
    const grid = join(root, 'grid')
    await mkdir(grid)
    expect(await localGridAnswer(grid)).toBeUndefined()
    await writeFile(join(grid, 'relay.addr'), `${A}\n${B}\n`)
    expect(await localGridAnswer(grid)).toEqual({ relay: A, relays: [A, B] })
    await writeFile(join(grid, 'keeper.addr'), 'http://127.0.0.1:4100\n')
    expect(await localGridAnswer(grid)).toEqual({ relay: A, relays: [A, B], keeper: 'http://127.0.0.1:4100' })
    await writeFile(join(grid, 'keeper.addr'), 'javascript:alert(1)\n')
    expect(await localGridAnswer(grid)).toEqual({ relay: A, relays: [A, B] })
  })

  it('without a grid folder, reads the config folder, never the working directory', async () => {
    process.env.SHARDFARM_CONFIG = join(root, 'config')
    expect(await localGridAnswer('')).toBeUndefined() // the working directory holds a relay.addr
    await saveLocalGrid(`${B}\n${A}`)
    expect(await localGridAnswer('')).toEqual({ relay: B, relays: [B, A] })
  })
})
