/**
 * A relay's health and Prometheus metrics over plain HTTP (`shardfarm relay --http HOST:PORT`), for
 * the person who runs it: `/health` (JSON: peer id, addresses, farmers listed, peer relays) and
 * `/metrics` (the directory, the federation's gossip and syncs, connections, and the process's memory
 * and timers, which is how a slow leak shows). GET only; everything is read from memory, so a
 * scrape costs nothing the relay waits on.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { PrometheusText } from '../src/core/prometheus.ts'
import type { Relay } from './main.ts'

/** A running endpoint. */
export interface RelayHttp {
  /** `http://host:port`. */
  url: string
  close: () => Promise<void>
}

/** Serves `/health` and `/metrics` of `relay` on `host:port` (port 0: any free one). */
export async function serveRelayHttp (relay: Relay, at: { host: string, port: number }, version: string): Promise<RelayHttp> {
  const server = createServer((req, res) => { answer(relay, version, req, res) })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(at.port, at.host, resolve)
  })
  const a = server.address() as AddressInfo
  return {
    url: `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`,
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>(resolve => server.close(() => { resolve() }))
    }
  }
}

function answer (relay: Relay, version: string, req: IncomingMessage, res: ServerResponse): void {
  const send = (status: number, type: string, body: string): void => {
    res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' })
    res.end(body)
  }
  if (req.method !== 'GET') { send(405, 'text/plain', 'method not allowed\n'); return }
  if (req.url === '/health') {
    const body = {
      status: 'ok', version, peerId: relay.libp2p.peerId.toString(), addrs: relay.libp2p.getMultiaddrs().map(String),
      farmers: relay.directory.size, relays: relay.federation.relays().slice(1).map(r => r.peerId)
    }
    send(200, 'application/json', JSON.stringify(body) + '\n')
    return
  }
  if (req.url === '/metrics') { send(200, 'text/plain; version=0.0.4; charset=utf-8', renderRelayMetrics(relay)); return }
  send(404, 'text/plain', 'not found\n')
}

/** The relay's figures in Prometheus text exposition format (version 0.0.4). */
export function renderRelayMetrics (relay: Relay): string {
  const out = new PrometheusText()
  const metric = out.metric
  const f = relay.federation
  metric('shardfarm_relay_farmers', 'gauge', 'Farmers the directory lists now.', [['', relay.directory.size]])
  metric('shardfarm_relay_tombstones', 'gauge', 'Farmer leaves held (each refuses older records for a TTL).', [['', relay.directory.tombstones]])
  metric('shardfarm_relay_peer_relays', 'gauge', 'Other relays of the federation known now.', [['', f.relays().length - 1]])
  metric('shardfarm_relay_gossip_messages_total', 'counter', 'Gossip messages received, by verdict.',
    Object.entries(f.verdicts).map(([k, v]) => [`{verdict="${k}"}`, v]))
  metric('shardfarm_relay_syncs_total', 'counter', 'Directory syncs pulled from peer relays.', [['', f.syncs]])
  metric('shardfarm_relay_connections', 'gauge', 'libp2p connections open now.', [['', relay.libp2p.getConnections().length]])
  const mem = process.memoryUsage()
  metric('process_resident_memory_bytes', 'gauge', 'Resident set size.', [['', mem.rss]])
  metric('nodejs_heap_used_bytes', 'gauge', 'V8 heap in use.', [['', mem.heapUsed]])
  metric('nodejs_heap_total_bytes', 'gauge', 'V8 heap reserved.', [['', mem.heapTotal]])
  metric('nodejs_external_memory_bytes', 'gauge', 'Memory of C++ objects bound to JavaScript, array buffers included.', [['', mem.external]])
  const resources = new Map<string, number>()
  for (const r of process.getActiveResourcesInfo()) resources.set(r, (resources.get(r) ?? 0) + 1)
  metric('nodejs_active_resources', 'gauge', 'Handles and requests keeping the event loop alive, by type (timers included).',
    [...resources].sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [`{type="${k}"}`, v]))
  return out.toString()
}
