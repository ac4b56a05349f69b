import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { homedir } from 'node:os'
import { isAbsolute, join, resolve } from 'node:path'
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

/**
 * The relay to use: `--relay`, else `SHARDFARM_RELAY`, else the config folder's `relay` (the
 * person's choice), else its `local-grid.addr` (left by a running `npm start` / `shardfarm grid`).
 */
export async function resolveRelay (flag: string | undefined): Promise<string> {
  const given = flag ?? process.env.SHARDFARM_RELAY
  if (given !== undefined && given !== '') return given
  const dir = configHome()
  for (const name of [RELAY_CONFIG_FILE, LOCAL_GRID_FILE]) {
    const addr = await readFile(join(dir, name), 'utf8').then(s => s.trim(), () => '')
    if (addr !== '') return addr
  }
  throw new UsageError(`no grid found (no ${join(dir, RELAY_CONFIG_FILE)} or ${join(dir, LOCAL_GRID_FILE)}): ` +
    'start one with `npm start` or `shardfarm grid`, or pass --relay MULTIADDR')
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
