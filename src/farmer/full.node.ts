/**
 * A full farmer (Node, disk, WebSockets) as one unit; the light farmer in a browser is `light.browser.ts`: identity and fragments in one data directory, a libp2p node serving
 * the fragment protocol, the directory heartbeat and a small HTTP endpoint for health and
 * Prometheus metrics. `src/cli/farmer.ts` adds flags and signals; tests and benchmarks may start
 * it in-process. Stop order matters: leave the directory first (no new clients are sent here),
 * then stop serving, then close the store once no request can reach it.
 */
import { createServer } from 'node:http'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import { readFile } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import type { Libp2p } from '@libp2p/interface'
import { loadOrCreateIdentity } from '../stores/identity.node.ts'
import { createNodeLibp2p } from '../net/libp2p.node.ts'
import type { FarmerKind, Tier } from '../net/protocols/directory.ts'
import { FsFragmentStore } from '../stores/fs.ts'
import type { Logger } from '../core/logger.ts'
import { AnnouncerSet } from './announce.ts'
import { AuditService } from './audit-service.ts'
import { FarmerService } from './service.ts'

/** Options of `startFarmer`. */
export interface FarmerProcessInit {
  /** Holds the identity (under `state/`, see `loadOrCreateIdentity`) and the fragment store. */
  dataDir: string
  /** Payload bytes the farmer accepts. @default FS_STORE_QUOTA (10 GiB) */
  quota?: number
  /** @default 'eu-west' */
  region?: string
  /** @default 'live' */
  tier?: Tier
  /** @default ['/ip4/127.0.0.1/tcp/0/ws'] */
  listen?: string[]
  /** Serve `wss` with this certificate and key (PEM); see `NodeLibp2pInit.tls`. */
  tls?: { cert: string, key: string }
  /** Addresses to announce instead of the listened ones. */
  announce?: string[]
  /** Relay multiaddr whose directory to join. @default none: the farmer is reachable only by address */
  relay?: string
  /** Relays whose directories to join, all of them (with `relay`, it comes first). @default none */
  relays?: string[]
  /** Heartbeat period in ms (the relay's TTL may shorten it). @default HEARTBEAT_MS (10 s) */
  heartbeatMs?: number
  /** `{ host, port }` of the HTTP health/metrics endpoint. @default none */
  http?: { host: string, port: number }
  /** How long a claim lasts from the PUT or RENEW that sets it. @default LEASE_MS (30 days) */
  leaseMs?: number
  /** Period of the lease collector. @default COLLECT_INTERVAL_MS (1 h) */
  collectIntervalMs?: number
  /** Payload bytes one owner key may hold claims on. @default a quarter of the quota */
  maxBytesPerOwner?: number
  /** Payload bytes one uploading peer may hold claims for. @default a quarter of the quota */
  maxBytesPerPeer?: number
  log: Logger
}

/** A running farmer. */
export interface FarmerProcess {
  libp2p: Libp2p
  store: FsFragmentStore
  service: FarmerService
  /** Answers audits (`/shardfarm/audit/1.0.0`) from the same store. */
  audits: AuditService
  /** The heartbeats to every relay, when there is one. */
  announcer: AnnouncerSet | undefined
  /** First listen multiaddr with `/p2p/<id>`. */
  addr: string
  /** `http://host:port` of the health/metrics endpoint, when enabled. */
  httpUrl: string | undefined
  /** Leaves the directory, stops serving, closes the store. Idempotent. */
  stop: () => Promise<void>
}

const KIND: FarmerKind = 'full'

/** The package version, announced to the directory and shown by `/health`. */
export async function shardfarmVersion (): Promise<string> {
  const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string }
  return pkg.version ?? '0.0.0'
}

/** Starts a full farmer. */
export async function startFarmer (init: FarmerProcessInit): Promise<FarmerProcess> {
  const { log } = init
  const version = await shardfarmVersion()
  const region = init.region ?? 'eu-west'
  const tier = init.tier ?? 'live'
  const privateKey = await loadOrCreateIdentity(init.dataDir)
  const store = await FsFragmentStore.open(init.dataDir, init.quota === undefined ? {} : { quota: init.quota })
  const libp2p = await createNodeLibp2p({ privateKey, listen: init.listen ?? ['/ip4/127.0.0.1/tcp/0/ws'], ...(init.tls !== undefined ? { tls: init.tls } : {}), ...(init.announce !== undefined ? { announce: init.announce } : {}) })
  const service = new FarmerService({ libp2p, store }, {
    region, tier, kind: KIND, version,
    ...(init.leaseMs !== undefined ? { leaseMs: init.leaseMs } : {}),
    ...(init.collectIntervalMs !== undefined ? { collectIntervalMs: init.collectIntervalMs } : {}),
    ...(init.maxBytesPerOwner !== undefined ? { maxBytesPerOwner: init.maxBytesPerOwner } : {}),
    ...(init.maxBytesPerPeer !== undefined ? { maxBytesPerPeer: init.maxBytesPerPeer } : {}),
    onInternalError: (err) => { log.warn('farmer internal error', { err }) }
  })
  await service.start()
  const audits = new AuditService({ libp2p, store, metrics: service.metrics }, { onInternalError: (err) => { log.warn('audit failed', { err }) } })
  await audits.start()
  const addr = libp2p.getMultiaddrs()[0]?.toString()
  if (addr === undefined) throw new Error('farmer has no listen address')

  let announcer: AnnouncerSet | undefined
  const relays = [...new Set([...(init.relay !== undefined ? [init.relay] : []), ...(init.relays ?? [])])]
  if (relays.length > 0) {
    const wasOk = new Map<string, boolean>()
    announcer = new AnnouncerSet({ libp2p, privateKey, stat: async () => await store.stat() }, {
      relays, region, tier, kind: KIND, version,
      ...(init.heartbeatMs !== undefined ? { intervalMs: init.heartbeatMs } : {}),
      onResult: (relay, r) => {
        // Log transitions only: a heartbeat every few seconds would drown the log.
        if (r.ok !== wasOk.get(relay)) {
          if (r.ok) log.info('listed in directory', { relay, ttlMs: r.ttlMs })
          else log.warn('directory announce failed (retrying)', { relay, err: r.err })
        }
        wasOk.set(relay, r.ok)
      }
    })
    await announcer.start()
  }

  let server: Server | undefined
  let httpUrl: string | undefined
  let stopped = false
  if (init.http !== undefined) {
    server = createServer((req, res) => { void serveHttp(req, res) })
    await new Promise<void>((resolve, reject) => {
      server!.once('error', reject)
      server!.listen(init.http!.port, init.http!.host, resolve)
    })
    const a = server.address() as AddressInfo
    httpUrl = `http://${a.address}:${a.port}`
  }

  async function serveHttp (req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      if (req.method !== 'GET') return send(res, 405, 'text/plain', 'method not allowed\n')
      if (req.url === '/health') {
        const stat = await store.stat()
        const body = { status: stopped ? 'stopping' : 'ok', peerId: libp2p.peerId.toString(), addrs: libp2p.getMultiaddrs().map(String), region, tier, version, store: stat, directory: announcer === undefined ? null : { ok: announcer.ok, failed: announcer.failed } }
        return send(res, stopped ? 503 : 200, 'application/json', JSON.stringify(body) + '\n')
      }
      if (req.url === '/metrics') return send(res, 200, 'text/plain; version=0.0.4; charset=utf-8', await renderMetrics())
      send(res, 404, 'text/plain', 'not found\n')
    } catch (err) {
      log.warn('http request failed', { url: req.url, err })
      send(res, 500, 'text/plain', 'internal error\n')
    }
  }

  /** The service's counters (with fresh store figures) plus the heartbeat counters only this wiring sees. */
  async function renderMetrics (): Promise<string> {
    service.metrics.observeStore(await store.stat())
    await service.observeClaims()
    const extra = announcer === undefined
      ? ''
      : counter('shardfarm_directory_announces_total', 'Directory heartbeats by result.', [['result="ok"', announcer.ok], ['result="failed"', announcer.failed]])
    return service.metrics.render() + extra
  }

  let stopping: Promise<void> | undefined
  const stop = async (): Promise<void> => {
    stopping ??= (async () => {
      stopped = true
      await announcer?.stop()
      await audits.stop().catch((err: unknown) => { log.warn('audit service stop failed', { err }) })
      await service.stop().catch((err: unknown) => { log.warn('farmer service stop failed', { err }) })
      await libp2p.stop()
      await store.close()
      if (server !== undefined) {
        server.closeAllConnections()
        await new Promise<void>(resolve => server!.close(() => { resolve() }))
      }
    })()
    await stopping
  }
  return { libp2p, store, service, audits, announcer, addr, httpUrl, stop }
}

function send (res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' })
  res.end(body)
}

const counter = (name: string, help: string, rows: Array<[string, number]>): string =>
  `# HELP ${name} ${help}\n# TYPE ${name} counter\n${rows.map(([l, v]) => `${name}{${l}} ${v}\n`).join('')}`
