/**
 * `shardfarm keeper`: runs a keeper (`src/keeper/`) until SIGINT/SIGTERM, over this machine's owner
 * index and the links given with `shardfarm keep`. stdout gets one line (its HTTP address with
 * `--http`, else its data folder); logs (JSON lines) go to stderr.
 * `shardfarm keep LINK` adds a link to a keeper's list; `shardfarm keep --list` shows the list.
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join, resolve } from 'node:path'
import { formatCapability, parseCapability } from '../core/capability.ts'
import { OwnerIndex } from '../client/owner-index.ts'
import { clientHome, nodeKeyValueStore, openNodeClient } from '../client/session.node.ts'
import { Keeper } from '../keeper/keeper.ts'
import { KeeperState } from '../keeper/state.ts'
import { parseCount, parseHostPort, UsageError } from './args.ts'
import { args } from './files.ts'
import { printAddress, stopOnSignals } from './lifecycle.ts'
import { createLogger } from './log.ts'
import { resolveRelay } from './relay-address.ts'
import { terminalSafe } from './safe-name.ts'

export const KEEPER_USAGE = `shardfarm keeper [--relay ADDR] [--data DIR] [--http HOST:PORT] [--interval S] [--grace S]
                 [--audits-per-hour N] [--repair-mbps N] [--lease-days N]
    keeps files healthy on its own: the files put from this machine, and the links given with
    \`shardfarm keep\`. Every --interval seconds (600) it audits a sample of their copies (least
    recently audited first, at most --audits-per-hour, 3600), repairs a file when a segment falls
    to k + m - ceil(m/2) proven fragments (the durability model's threshold: live at 5 of 6, archive
    at 12 of 14) or its manifest to 3 of 5 copies, counts a silent farmer's copies for --grace
    seconds (3600) before replacing them (and again when it comes back), renews leases when a third
    of --lease-days (30) is left, and moves at most --repair-mbps megabits/s (unlimited) for repairs.
    State lives in --data (default: keeper/ in the data folder); --http serves /metrics and /health.
    A file kept from a verify link alone is repaired with the keeper's own key: the owner's \`rm\`
    cannot remove those repaired copies yet (they expire when the keeper stops renewing them).
shardfarm keep LINK [--keeper-data DIR]
    adds a read or verify link to the keeper's list (read at its next round)
shardfarm keep --list [--json] [--keeper-data DIR]`

/** The keeper's data folder: `dir`, or `keeper/` in the client's data folder. */
function keeperHome (dir: string | undefined): string {
  return dir !== undefined ? resolve(dir) : join(clientHome(), 'keeper')
}

/** A positive number of seconds (fractions allowed, for tests) as milliseconds. */
function seconds (flag: string, s: string | undefined, fallback: number): number {
  if (s === undefined) return fallback
  const n = Number(s)
  if (!/^\d+(\.\d+)?$/.test(s) || !(n > 0) || n > 366 * 24 * 3600) throw new UsageError(`--${flag} must be a number of seconds > 0, got ${JSON.stringify(s)}`)
  return Math.round(n * 1000)
}

export async function keeperCommand (argv: string[]): Promise<void> {
  const { values, positionals } = args(argv, {
    relay: { type: 'string' }, data: { type: 'string' }, http: { type: 'string' }, interval: { type: 'string' }, grace: { type: 'string' },
    'audits-per-hour': { type: 'string' }, 'repair-mbps': { type: 'string' }, 'lease-days': { type: 'string' }
  })
  if (positionals.length !== 0) throw new UsageError('keeper takes no LINK: add links with `shardfarm keep LINK`')
  const str = (k: string): string | undefined => values[k] as string | undefined
  const intervalMs = seconds('interval', str('interval'), 600_000)
  const graceMs = seconds('grace', str('grace'), 3_600_000)
  const auditsPerHour = str('audits-per-hour') !== undefined ? parseCount('audits-per-hour', str('audits-per-hour')!, 1) : 3600
  const mbps = str('repair-mbps')
  if (mbps !== undefined && !(/^\d+(\.\d+)?$/.test(mbps) && Number(mbps) > 0)) throw new UsageError(`--repair-mbps must be a number > 0, got ${JSON.stringify(mbps)}`)
  const leaseMs = str('lease-days') !== undefined ? parseCount('lease-days', str('lease-days')!, 1) * 24 * 3600_000 : undefined
  const http = str('http') !== undefined ? parseHostPort('http', str('http')!) : undefined
  const home = keeperHome(str('data'))

  const log = createLogger('keeper')
  const session = await openNodeClient(await resolveRelay(str('relay')))
  const index = new OwnerIndex(nodeKeyValueStore())
  const state = new KeeperState(nodeKeyValueStore(home))
  const keeper = new Keeper({
    ports: session,
    state,
    ownedFiles: async () => await index.list(),
    addOwnedCopies: async (id, copies) => await index.addCopies(id, copies)
  }, {
    intervalMs, graceMs, auditsPerHour, log,
    ...(mbps !== undefined ? { repairBytesPerSecond: Number(mbps) * 1e6 / 8 } : {}),
    ...(leaseMs !== undefined ? { leaseMs } : {})
  })

  let server: ReturnType<typeof createServer> | undefined
  let url: string | undefined
  if (http !== undefined) {
    server = createServer((req, res) => {
      const send = (status: number, type: string, body: string): void => { res.writeHead(status, { 'content-type': type }); res.end(body) }
      if (req.method !== 'GET') { send(405, 'text/plain', 'method not allowed\n'); return }
      if (req.url === '/metrics') { send(200, 'text/plain; version=0.0.4; charset=utf-8', keeper.metrics.render()); return }
      if (req.url === '/health') {
        const s = keeper.metrics.snapshot()
        send(200, 'application/json', JSON.stringify({ status: 'ok', files: s.files, rounds: s.rounds, lastRoundAt: keeper.lastRoundAt ?? null, segments: s.segments }) + '\n')
        return
      }
      send(404, 'text/plain', 'not found\n')
    })
    // Scrapes are tiny: a slow or idle client is cut rather than held.
    server.requestTimeout = 10_000
    server.headersTimeout = 5_000
    server.maxHeadersCount = 50
    await new Promise<void>((resolve, reject) => { server!.once('error', reject); server!.listen(http.port, http.host, resolve) })
    const a = server.address() as AddressInfo
    url = `http://${a.address}:${a.port}`
  }

  stopOnSignals(async () => {
    await keeper.stop()
    server?.closeAllConnections()
    await new Promise<void>(resolve => { if (server === undefined) resolve(); else server.close(() => { resolve() }) })
    await session.close()
  }, log)
  keeper.start()
  log.info('keeper running', { data: home, http: url, intervalMs, graceMs, auditsPerHour, repairMbps: mbps ?? null })
  printAddress(url ?? home)
}

export async function keepCommand (argv: string[]): Promise<void> {
  const { values, positionals } = args(argv, { 'keeper-data': { type: 'string' }, list: { type: 'boolean' }, json: { type: 'boolean' } })
  const state = new KeeperState(nodeKeyValueStore(keeperHome(values['keeper-data'] as string | undefined)))
  if (values.list === true) {
    if (positionals.length !== 0) throw new UsageError('keep --list takes no LINK')
    const kept = await state.kept()
    if (values.json === true) {
      process.stdout.write(JSON.stringify(kept.map(k => ({ ...k, manifestId: parseCapability(k.link).manifestId }))) + '\n')
      return
    }
    for (const k of kept) process.stdout.write(`${new Date(k.addedAt).toISOString().slice(0, 19)}  ${terminalSafe(k.link)}\n`)
    return
  }
  if (positionals.length !== 1) throw new UsageError('keep takes exactly one LINK (or --list)')
  const { cap, added } = await state.keep(positionals[0]!).catch((err: Error) => {
    throw err.name === 'CapabilityError' || err.name === 'RangeError' ? new UsageError(err.message) : err
  })
  process.stderr.write(`${added ? 'kept' : 'already kept'}: ${formatCapability(cap).slice(0, 40)}… (the keeper looks at it in its next round)\n`)
}
