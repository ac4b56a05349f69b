import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import type { Logger } from '../src/core/logger.ts'
import { serveRelayHttp, type RelayHttp } from './http.ts'
import { startRelay, type Relay } from './main.ts'

const quiet: Logger = { debug () {}, info () {}, warn () {}, error () {}, child: () => quiet }
let root = ''
let relay: Relay | undefined
let http: RelayHttp | undefined

afterAll(async () => {
  await http?.close()
  await relay?.stop()
  if (root !== '') await rm(root, { recursive: true, force: true })
})

describe('relay /health and /metrics', () => {
  it('tells who the relay is and what it holds, and the process\'s memory and timers; GET only', async () => {
    root = await mkdtemp(join(tmpdir(), 'shardfarm-relay-http-'))
    relay = await startRelay({ dataDir: root, log: quiet, dialBack: false })
    http = await serveRelayHttp(relay, { host: '127.0.0.1', port: 0 }, '9.9.9')
    const health = await (await fetch(`${http.url}/health`)).json() as Record<string, unknown>
    expect(health).toMatchObject({ status: 'ok', version: '9.9.9', peerId: relay.libp2p.peerId.toString(), farmers: 0, relays: [] })
    const res = await fetch(`${http.url}/metrics`)
    expect(res.headers.get('content-type')).toContain('text/plain; version=0.0.4')
    const text = await res.text()
    for (const line of ['shardfarm_relay_farmers 0', 'shardfarm_relay_syncs_total 0', 'shardfarm_relay_gossip_messages_total{verdict="reject"} 0']) expect(text).toContain(line)
    expect(text).toMatch(/^nodejs_heap_used_bytes [1-9]\d+$/m)
    expect(text).toMatch(/^nodejs_active_resources\{type="Timeout"\} [1-9]\d*$/m)
    expect((await fetch(`${http.url}/metrics`, { method: 'POST' })).status).toBe(405)
    expect((await fetch(`${http.url}/nothing`)).status).toBe(404)
  })
})
