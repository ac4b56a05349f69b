/**
 * `shardfarm start` (what `npm start` runs): builds the app, starts a local grid (two federated
 * relays and N full farmers, several to a child process) and serves the app on 127.0.0.1, then
 * prints where to go.
 * Nothing to configure: the app asks the server for the grid (`/grid.json`, read from
 * `DATA/relay.addr`), and the file commands find it in the person's config folder, where the grid
 * records it (`local-grid.addr`, see `relay-address.ts`). Ctrl-C stops everything.
 */
import { createWriteStream } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseCount, parseFlags, parseHostPort } from './args.ts'
import { stopOnSignals } from './lifecycle.ts'
import { createLogger } from './log.ts'
import { spawnShardfarm, stopChild } from './spawn.ts'

/**
 * The local grid's default size: every policy the app offers (archive is 32 + 32 over 3 regions)
 * with 16 farmers to spare, so one slow or lost farmer does not fail an archive put; hosted 16 to
 * a process (five processes), it idles in about 0.8 GiB and comes up in about 25 s on a busy
 * 2-core machine (README, "Storage presets").
 */
export const START_FARMERS = 80
export const START_PER_PROCESS = 16
/** Relays of the local grid: two, federated, so that the grid runs as a federation does. */
export const START_RELAYS = 2
/** Where `npm start` writes its keeper's HTTP address, in the grid's data folder (read by `/grid.json`). */
export const KEEPER_ADDR_FILE = 'keeper.addr'

export const START_USAGE = `shardfarm start [options]
  --farmers N         full farmers in the local grid (default ${START_FARMERS}: every policy the app offers)
  --per-process K     farmers hosted by one process (default ${START_PER_PROCESS})
  --data DIR          grid data root (default ./.shardfarm)
  --listen H:PORT     where the app is served (default 127.0.0.1:5173)
  --no-build          serve the last build in dist/ instead of building first`

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

export async function startCommand (argv: string[]): Promise<void> {
  const f = parseFlags(argv, { farmers: { type: 'string' }, 'per-process': { type: 'string' }, data: { type: 'string' }, listen: { type: 'string' }, 'no-build': { type: 'boolean' } })
  const farmers = parseCount('farmers', f.farmers ?? String(START_FARMERS), 1)
  const perProcess = parseCount('per-process', f['per-process'] ?? String(START_PER_PROCESS), 1)
  const data = f.data ?? './.shardfarm'
  const { host, port } = parseHostPort('listen', f.listen ?? '127.0.0.1:5173')
  const log = createLogger('start')
  const vite = await import('vite')
  if (f['no-build'] !== true) {
    log.info('building the app')
    await vite.build({ root: ROOT, logLevel: 'warn' })
  }
  // The grid's JSON logs go to a file, so the terminal shows only what a person needs.
  await mkdir(data, { recursive: true })
  const logFile = createWriteStream(join(data, 'grid.log'), { flags: 'a' })
  const grid = await spawnShardfarm(['grid', '--farmers', String(farmers), '--per-process', String(perProcess), '--relays', String(START_RELAYS), '--data', data], { name: 'grid', stderr: 'pipe', onStderr: line => { logFile.write(line + '\n') } })
  // The grid prints every relay's address on its line; farmers announce to each.
  const relays = grid.addr.split(' ')
  process.env.SHARDFARM_GRID = data // where vite.config.ts's /grid.json reads the relay address
  // A keeper beside the grid keeps the files put from this machine (and any given with `keep`) from the start.
  const keeper = await spawnShardfarm(['keeper', ...relays.flatMap(r => ['--relay', r]), '--interval', '60', '--grace', '300', '--http', '127.0.0.1:0'], { name: 'keeper', stderr: 'pipe', onStderr: line => { logFile.write(line + '\n') } })
  await writeFile(join(data, KEEPER_ADDR_FILE), keeper.addr + '\n') // `/grid.json` offers it to the app's "Keep safe"
  const server = await vite.preview({ root: ROOT, preview: { host, port, strictPort: true }, logLevel: 'warn' })
  stopOnSignals(async () => {
    await new Promise<void>(resolve => { server.httpServer.close(() => { resolve() }) })
    await stopChild(keeper)
    await stopChild(grid)
  }, log)
  const url = `http://${host}:${port}/`
  process.stdout.write(`\nShardfarm is running.\n\n  Open ${url} and drop a file in.\n\n` +
    `  Local grid: ${relays.length} federated relays + ${farmers} farmers, data in ${data}/ (logs: ${join(data, 'grid.log')})\n` +
    relays.map((r, i) => `  Relay ${i + 1}:    ${r}\n`).join('') +
    `  Keeper:     ${keeper.addr}, audits and repairs the files put from this machine every minute (docs/keeper.md)\n` +
    '  From a shell: npm run shardfarm -- put FILE   (then: npm run shardfarm -- get LINK -o copy)\n\n  Ctrl-C stops it all.\n')
}
