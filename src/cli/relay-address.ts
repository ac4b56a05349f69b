import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { homedir } from 'node:os'
import { isAbsolute, join, resolve } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { MAX_RELAYS } from '../client/adapters/relay-set.ts'
import { UsageError } from './args.ts'

/** File `shardfarm grid` writes its relay address to, under its data root (read by the app's server). */
export const RELAY_ADDR_FILE = 'relay.addr'

/** In the config folder: a relay address the person chose. Shardfarm never writes it. */
export const RELAY_CONFIG_FILE = 'relay'

/** In the config folder: the relay of the running local grid, written and removed by `shardfarm grid`. */
export const LOCAL_GRID_FILE = 'local-grid.addr'

/**
 * The person's config folder: `SHARDFARM_CONFIG`, else `$XDG_CONFIG_HOME/shardfarm`, else
 * `~/.config/shardfarm`. Never the working directory: a cloned repository must not be able to
 * send the CLI to a relay of its choosing.
 */
export function configHome (): string {
  const given = process.env.SHARDFARM_CONFIG
  if (given !== undefined && given !== '') return resolve(given)
  const xdg = process.env.XDG_CONFIG_HOME
  return join(xdg !== undefined && isAbsolute(xdg) ? xdg : join(homedir(), '.config'), 'shardfarm')
}

/** Every `--relay` of the command line, in order: `parseArgs` keeps only the last of a repeated string flag. */
let commandLineRelays: string[] = []

/**
 * The values of every `--relay X` / `--relay=X` in `argv`, in order, for `resolveRelays`; called
 * by `dispatch` before the command parses its own flags, so that `--relay` is repeatable on every
 * command without each parser knowing it.
 */
export function takeRelayFlags (argv: readonly string[]): string[] {
  const found: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    if (a === '--') break
    if (a === '--relay' && i + 1 < argv.length) found.push(argv[++i]!)
    else if (a.startsWith('--relay=')) found.push(a.slice('--relay='.length))
  }
  commandLineRelays = found
  return found
}

/** A list of relay multiaddrs from text: separated by commas, spaces or new lines; duplicates dropped. */
export function parseRelayList (text: string): string[] {
  return [...new Set(text.split(/[\s,]+/).map(a => a.trim()).filter(a => a !== ''))]
}

/** Checks that each of `relays` is a multiaddr (a `UsageError` names the first that is not) and caps the list. */
export function checkRelays (relays: readonly string[], from: string): string[] {
  for (const r of relays) {
    try { multiaddr(r) } catch { throw new UsageError(`${from}: not a multiaddr: ${JSON.stringify(r.slice(0, 200))}`) }
  }
  if (relays.length > MAX_RELAYS) throw new UsageError(`${from}: at most ${MAX_RELAYS} relays, got ${relays.length}`)
  return [...relays]
}

/**
 * The relays to use, in the order to ask them: every `--relay` (repeatable), else
 * `SHARDFARM_RELAYS` (comma-separated), else `SHARDFARM_RELAY`, else the config folder's `relay`
 * (the person's choice; one address a line), else its `local-grid.addr` (left by a running
 * `npm start` / `shardfarm grid`). The client adds the relays it learned for that same list
 * (`openNodeClient`, from its data folder) after these.
 */
export async function resolveRelays (flag?: string | readonly string[]): Promise<string[]> {
  return await givenRelays(flag)
}

/** The relays to use, as `resolveRelays` finds them (the name older callers know). */
export const resolveRelay = resolveRelays

async function givenRelays (flag: string | readonly string[] | undefined): Promise<string[]> {
  const flags = commandLineRelays.length > 0 ? commandLineRelays : typeof flag === 'string' ? [flag] : [...(flag ?? [])]
  if (flags.length > 0) return checkRelays([...new Set(flags)], '--relay')
  const many = process.env.SHARDFARM_RELAYS
  if (many !== undefined && many.trim() !== '') return checkRelays(parseRelayList(many), 'SHARDFARM_RELAYS')
  const one = process.env.SHARDFARM_RELAY
  if (one !== undefined && one !== '') return checkRelays([one], 'SHARDFARM_RELAY')
  const dir = configHome()
  for (const name of [RELAY_CONFIG_FILE, LOCAL_GRID_FILE]) {
    const text = await readFile(join(dir, name), 'utf8').catch(() => '')
    const list = parseRelayList(text.slice(0, 64 * 1024))
    if (list.length > 0) return checkRelays(list.slice(0, MAX_RELAYS), join(dir, name))
  }
  throw new UsageError(`no grid found (no ${join(dir, RELAY_CONFIG_FILE)} or ${join(dir, LOCAL_GRID_FILE)}): ` +
    'start one with `npm start` or `shardfarm grid`, or pass --relay MULTIADDR')
}

/** Most relays one farmer announces to. */
export const MAX_FARMER_RELAYS = 8

/** Checks every `--relay` of a farmer: a multiaddr ending in the relay's `/p2p/<id>`, at most MAX_FARMER_RELAYS. */
export function farmerRelays (given: readonly string[] | undefined): string[] {
  const relays = [...new Set(given ?? [])]
  if (relays.length > MAX_FARMER_RELAYS) throw new UsageError(`--relay: at most ${MAX_FARMER_RELAYS} relays, got ${relays.length}`)
  for (const r of relays) {
    try { multiaddr(r) } catch { throw new UsageError(`--relay must be a multiaddr, got ${JSON.stringify(r.slice(0, 200))}`) }
    if (!r.includes('/p2p/')) throw new UsageError('--relay must end in /p2p/<relay peer id> (the line `shardfarm relay` prints)')
  }
  return relays
}

/** Records the running local grid's relay in the config folder (0700, file 0600) for the file commands. */
export async function saveLocalGrid (addr: string): Promise<void> {
  const dir = configHome()
  await mkdir(dir, { recursive: true, mode: 0o700 })
  await chmod(dir, 0o700)
  await writeFile(join(dir, LOCAL_GRID_FILE), addr + '\n', { mode: 0o600 })
}

/** Forgets the local grid's relay, unless another grid has written its own since. */
export async function forgetLocalGrid (addr: string): Promise<void> {
  const file = join(configHome(), LOCAL_GRID_FILE)
  const now = await readFile(file, 'utf8').then(s => s.trim(), () => undefined)
  if (now === addr) await rm(file, { force: true })
}

/** What `/grid.json` tells the app: the local grid's relays in order (`relay`: the first, for older pages), and its keeper. */
export interface LocalGridAnswer { relay: string, relays: string[], keeper?: string }

/**
 * The local grid as the app's server describes it (`/grid.json`): the relays `shardfarm grid` wrote,
 * one a line, to `GRID/relay.addr` when `grid` (`$SHARDFARM_GRID`, set by `npm start`) is given,
 * else to the config folder's `local-grid.addr`; and `npm start`'s keeper (`GRID/keeper.addr`, plain
 * http only). Undefined when no grid is running.
 */
export async function localGridAnswer (grid = process.env.SHARDFARM_GRID): Promise<LocalGridAnswer | undefined> {
  const inGrid = grid !== undefined && grid !== ''
  const file = inGrid ? join(grid, RELAY_ADDR_FILE) : join(configHome(), LOCAL_GRID_FILE)
  const text = await readFile(file, 'utf8').catch(() => '')
  const relays = parseRelayList(text.slice(0, 64 * 1024)).slice(0, MAX_RELAYS)
  if (relays.length === 0) return undefined
  const keeper = inGrid ? (await readFile(join(grid, 'keeper.addr'), 'utf8').catch(() => '')).trim() : ''
  return { relay: relays[0]!, relays, ...(/^http:\/\/[\w.:[\]-]+$/.test(keeper) ? { keeper } : {}) }
}
