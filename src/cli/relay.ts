/**
 * `shardfarm relay [--listen 127.0.0.1:PORT] [--data DIR] [--directory-ttl MS] [--vetting-period
 * DURATION] [--shared-subnets] [--peer MULTIADDR]… [--tls-cert PATH --tls-key PATH] [--announce MULTIADDR]… [--http HOST:PORT]`: runs a relay until SIGINT/SIGTERM, federated
 * with every `--peer` relay (records shared over gossipsub, `relay/federation.ts`). stdout gets
 * exactly one line, the relay's multiaddr with `/p2p/<id>`.
 */
import { multiaddr } from '@multiformats/multiaddr'
import { startRelay } from '../../relay/main.ts'
import { serveRelayHttp } from '../../relay/http.ts'
import { shardfarmVersion } from '../farmer/full.node.ts'
import { announceFlags, parseCount, parseFlags, parseHostPort, readTlsFlags, UsageError, wsListenAddr } from './args.ts'
import { stopOnSignals, printAddress } from './lifecycle.ts'
import { createLogger } from './log.ts'

export const RELAY_USAGE = `shardfarm relay [options]
  --listen HOST:PORT      WebSocket listen address (default 127.0.0.1:0, any free port)
  --tls-cert PATH --tls-key PATH   serve wss (TLS) with this certificate and key (PEM files)
  --announce MULTIADDR    address to give out instead of the listen one (repeatable)
  --data DIR              identity and state directory (default ./.shardfarm/relay)
  --directory-ttl MS      forget farmers silent this long (default 30000)
  --vetting-period D      farmers count as new this long after first seen: 24h, 90m, 30s, 0 (default 24h)
  --shared-subnets        tell clients the farmers share a subnet on purpose (a single-host grid)
  --max-reservations N    circuit relay reservations at once (default 1024)
  --new-farmers-per-minute N  new farmer identities one network (/24, /48) may list a minute (default 64)
  --new-farmers-per-hour N    and an hour (default 512)
  --peer MULTIADDR        a relay to federate with (repeatable; kept dialed, with backoff)
  --http HOST:PORT        health and Prometheus metrics endpoint (default: none)`

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }
/** The longest vetting period accepted: a year. */
const MAX_DURATION_MS = 365 * 86_400_000

/** `24h`, `90s`, `15m`, `2d`, `500ms` or `0` → ms. */
export function parseDuration (flag: string, s: string): number {
  const m = /^(\d+)(ms|s|m|h|d)?$/.exec(s.trim())
  const ms = m === null ? NaN : Number(m[1]) * (m[2] === undefined ? (m[1] === '0' ? 0 : NaN) : DURATION_UNITS[m[2]]!)
  if (!Number.isSafeInteger(ms) || ms > MAX_DURATION_MS) {
    throw new UsageError(`--${flag} must be a duration like 24h, 90m, 30s or 0 (at most 365d), got ${JSON.stringify(s)}`)
  }
  return ms
}

/** Runs the relay subcommand. */
export async function relayCommand (argv: string[]): Promise<void> {
  const f = parseFlags(argv, {
    listen: { type: 'string' }, data: { type: 'string' },
    'directory-ttl': { type: 'string' }, 'max-reservations': { type: 'string' },
    'vetting-period': { type: 'string' }, 'shared-subnets': { type: 'boolean' }, 'new-farmers-per-minute': { type: 'string' },
    'new-farmers-per-hour': { type: 'string' }, peer: { type: 'string', multiple: true },
    'tls-cert': { type: 'string' }, 'tls-key': { type: 'string' }, announce: { type: 'string', multiple: true },
    http: { type: 'string' }
  })
  const http = f.http !== undefined ? parseHostPort('http', f.http) : undefined
  const tls = await readTlsFlags(f['tls-cert'], f['tls-key'])
  const announce = announceFlags(f.announce)
  const peers = f.peer ?? []
  for (const p of peers) {
    let ok = false
    try { ok = multiaddr(p).getComponents().at(-1)?.name === 'p2p' } catch { /* reported below */ }
    if (!ok) throw new UsageError(`--peer must be a relay multiaddr ending in /p2p/<peer id>, got ${JSON.stringify(p)}`)
  }
  const log = createLogger('relay')
  const relay = await startRelay({
    dataDir: f.data ?? './.shardfarm/relay',
    listen: [wsListenAddr('listen', f.listen ?? '127.0.0.1:0', tls)],
    ...(tls !== undefined ? { tls } : {}),
    ...(announce.length > 0 ? { announce } : {}),
    directory: {
      ...(f['directory-ttl'] !== undefined ? { ttlMs: parseCount('directory-ttl', f['directory-ttl'], 100) } : {}),
      ...(f['new-farmers-per-minute'] !== undefined ? { subnetNewPeers: { max: parseCount('new-farmers-per-minute', f['new-farmers-per-minute'], 1), windowMs: 60_000 } } : {}),
      ...(f['new-farmers-per-hour'] !== undefined ? { subnetNewPeersPerHour: parseCount('new-farmers-per-hour', f['new-farmers-per-hour'], 1) } : {})
    },
    peers,
    ...(f['max-reservations'] !== undefined ? { maxReservations: parseCount('max-reservations', f['max-reservations'], 1) } : {}),
    ...(f['vetting-period'] !== undefined ? { vettingPeriodMs: parseDuration('vetting-period', f['vetting-period']) } : {}),
    sharedSubnets: f['shared-subnets'] === true,
    log
  })
  const endpoint = http !== undefined ? await serveRelayHttp(relay, http, await shardfarmVersion()) : undefined
  stopOnSignals(async () => { await endpoint?.close(); await relay.stop() }, log)
  log.info('relay listening', {
    addr: relay.addr, http: endpoint?.url, peerId: relay.libp2p.peerId.toString(), ttlMs: relay.directory.ttlMs,
    vettingPeriodMs: relay.admissions.vettingPeriodMs, sharedSubnets: f['shared-subnets'] === true, peers
  })
  printAddress(relay.addr)
}
