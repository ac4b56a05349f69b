/**
 * `shardfarm farmer --data DIR [...]`: runs a full farmer until SIGINT/SIGTERM. stdout gets exactly
 * one line, the farmer's multiaddr with `/p2p/<id>`; logs (JSON lines) go to stderr. With
 * `--count N`, hosts N farmers in this process instead (`farm-host.ts`).
 */
import { startFarmer } from '../farmer/full.node.ts'
import { farmerRelays } from './relay-address.ts'
import { announceFlags, parseChoice, parseCount, parseFlags, parseHostPort, parseSize, readTlsFlags, UsageError, wsListenAddr } from './args.ts'
import { printAddress, stopOnSignals } from './lifecycle.ts'
import { createLogger } from './log.ts'

const DAY_MS = 24 * 3600_000

export const FARMER_USAGE = `shardfarm farmer --data DIR [options]
  --data DIR              identity and fragments (required)
  --quota SIZE            payload bytes to offer, e.g. 10GiB, 500MB (default 10GiB)
  --region NAME           announced region (default eu-west)
  --tier live|archive     announced tier (default live)
  --listen HOST:PORT      WebSocket listen address (default 127.0.0.1:0)
  --tls-cert PATH --tls-key PATH   serve wss (TLS) with this certificate and key (PEM files)
  --announce MULTIADDR    address to give out instead of the listen one, e.g.
                          /dns4/farm.example.org/tcp/443/tls/ws; repeatable
  --relay MULTIADDR       relay whose directory to join; repeat it to be listed on several (default: none)
  --http HOST:PORT        health and Prometheus metrics endpoint (default: none)
  --heartbeat MS          directory heartbeat period (default 10000)
  --lease-days N          how long an upload's claim lasts unless renewed (default 30)
  --lease-ms MS           the same in milliseconds (for tests; overrides --lease-days)
  --collect-ms MS         how often expired claims are removed (default 3600000)
  --max-bytes-per-owner SIZE   most bytes one owner key may keep here (default: a quarter of --quota)
  --max-bytes-per-peer SIZE    most bytes one uploading peer may keep here (default: a quarter of --quota)
  --count N               host N farmers in this process, in DIR/farmer-<i>, for a local grid;
                          then also --first I (index of the first, default 0) and --http-base H:PORT
                          (farmer i serves /health and /metrics on PORT+i); regions go round robin`

/** Runs the farmer subcommand. */
export async function farmerCommand (argv: string[]): Promise<void> {
  if (argv.some(a => a === '--count' || a.startsWith('--count='))) {
    // Loaded only here: a single farmer does not need the local grid's code.
    await (await import('./farm-host.ts')).farmHostCommand(argv)
    return
  }
  const f = parseFlags(argv, {
    data: { type: 'string' }, quota: { type: 'string' }, region: { type: 'string' }, tier: { type: 'string' },
    listen: { type: 'string' }, relay: { type: 'string', multiple: true }, http: { type: 'string' }, heartbeat: { type: 'string' },
    'lease-days': { type: 'string' }, 'lease-ms': { type: 'string' }, 'collect-ms': { type: 'string' },
    'max-bytes-per-owner': { type: 'string' }, 'max-bytes-per-peer': { type: 'string' },
    'tls-cert': { type: 'string' }, 'tls-key': { type: 'string' }, announce: { type: 'string', multiple: true }
  })
  const leaseMs = f['lease-ms'] !== undefined
    ? parseCount('lease-ms', f['lease-ms'], 1)
    : f['lease-days'] !== undefined ? parseCount('lease-days', f['lease-days'], 1) * DAY_MS : undefined
  if (f.data === undefined) throw new UsageError('--data DIR is required')
  const relays = farmerRelays(f.relay)
  const tls = await readTlsFlags(f['tls-cert'], f['tls-key'])
  const announce = announceFlags(f.announce)
  const log = createLogger('farmer')
  const farmer = await startFarmer({
    dataDir: f.data,
    listen: [wsListenAddr('listen', f.listen ?? '127.0.0.1:0', tls)],
    ...(tls !== undefined ? { tls } : {}),
    ...(announce.length > 0 ? { announce } : {}),
    tier: parseChoice('tier', f.tier ?? 'live', ['live', 'archive'] as const),
    ...(f.quota !== undefined ? { quota: parseSize('quota', f.quota) } : {}),
    ...(f.region !== undefined ? { region: f.region } : {}),
    ...(relays.length > 0 ? { relays } : {}),
    ...(f.http !== undefined ? { http: parseHostPort('http', f.http) } : {}),
    ...(f.heartbeat !== undefined ? { heartbeatMs: parseCount('heartbeat', f.heartbeat, 50) } : {}),
    ...(leaseMs !== undefined ? { leaseMs } : {}),
    ...(f['collect-ms'] !== undefined ? { collectIntervalMs: parseCount('collect-ms', f['collect-ms'], 50) } : {}),
    ...(f['max-bytes-per-owner'] !== undefined ? { maxBytesPerOwner: parseSize('max-bytes-per-owner', f['max-bytes-per-owner']) } : {}),
    ...(f['max-bytes-per-peer'] !== undefined ? { maxBytesPerPeer: parseSize('max-bytes-per-peer', f['max-bytes-per-peer']) } : {}),
    log
  })
  stopOnSignals(farmer.stop, log)
  const stat = await farmer.store.stat()
  log.info('farmer listening', { addr: farmer.addr, peerId: farmer.libp2p.peerId.toString(), http: farmer.httpUrl, ...stat })
  printAddress(farmer.addr)
}
