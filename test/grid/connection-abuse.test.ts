// One hostile host against a relay and a farmer built as their processes build them (startRelay,
// startFarmer), all on 127.0.0.1, so the attacker shares its IP with the honest client: the hard
// case. It holds idle libp2p connections (more than a per-IP cap), then silent TCP sockets and
// WebSockets that never start Noise; a fresh client must still query the directory and PUT a
// fragment within 2 s each. Before the limits, libp2p's global bounds (10 pending upgrades of 10 s
// each, 300 connections) refused that client for as long as the attack lasted.
import { afterAll, beforeAll, expect, it } from 'vitest'
import { connect } from 'node:net'
import type { Socket } from 'node:net'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { WebSocket } from 'ws'
import { createLibp2p } from 'libp2p'
import { webSockets } from '@libp2p/websockets'
import { noise } from '@libp2p/noise'
import { yamux } from '@libp2p/yamux'
import type { Libp2p } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import type { Multiaddr } from '@multiformats/multiaddr'
import { startRelay } from '../../relay/main.ts'
import type { Relay } from '../../relay/main.ts'
import { startFarmer } from '../../src/farmer/full.node.ts'
import type { FarmerProcess } from '../../src/farmer/full.node.ts'
import { createNodeLibp2p } from '../../src/net/libp2p.node.ts'
import { generateOwnerKey } from '../../src/core/owner-key.ts'
import { CONNECTION_LIMITS } from '../../src/net/connection-limits.ts'
import { queryDirectory } from '../../src/net/protocols/directory.ts'
import { FarmerClient } from '../../src/client/adapters/farmer-client.ts'
import type { Logger } from '../../src/core/logger.ts'
import { randomFragment } from '../support/test-grid.ts'

const IDLE = 300
// More half-open sockets than a per-IP cap allows (64), yet with the client under libp2p's per-host rate limit (100/s).
const RAW = 80
const quiet: Logger = { debug () {}, info () {}, warn () {}, error () {}, child: () => quiet }
const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

let root = ''
let relay: Relay
let farmer: FarmerProcess
const attackers: Libp2p[] = []
const sockets: Socket[] = []
const webSocketsOpen: WebSocket[] = []

/** A bare libp2p node (no identify, ping or monitor: it never opens a stream) that can hold many connections. */
async function attacker (): Promise<Libp2p> {
  const node = await createLibp2p({
    transports: [webSockets()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionManager: { maxConnections: 10_000, maxParallelDials: 1000 },
    connectionMonitor: { enabled: false }
  })
  attackers.push(node)
  return node
}

/**
 * Opens `n` idle connections to `target`, one after another (concurrent dials to one peer share a
 * single connection) and at most 40 per half second (under the per-host rate limit); returns how
 * many it opened.
 */
async function holdIdle (node: Libp2p, target: Multiaddr, n: number): Promise<number> {
  let opened = 0
  let window = Date.now()
  for (let i = 0; i < n; i++) {
    if (i % 40 === 0 && i > 0) { await sleep(window + 500 - Date.now()); window = Date.now() }
    try {
      await node.dial(target, { force: true, signal: AbortSignal.timeout(10_000) })
      opened++
    } catch { /* refused: try the next one */ }
  }
  return opened
}

function portOf (addr: string): number {
  return Number(multiaddr(addr).getComponents().find(c => c.name === 'tcp')!.value)
}

/** TCP sockets that never send a byte. */
function silent (port: number, n: number): void {
  for (let i = 0; i < n; i++) {
    const s = connect(port, '127.0.0.1')
    s.on('error', () => {})
    sockets.push(s)
  }
}

/** WebSockets that open and then never start the libp2p handshake; resolves once all have opened or failed. */
async function mute (port: number, n: number): Promise<WebSocket[]> {
  const list = Array.from({ length: n }, () => new WebSocket(`ws://127.0.0.1:${port}`))
  webSocketsOpen.push(...list)
  await Promise.all(list.map(async ws => { await new Promise(resolve => { ws.once('open', resolve); ws.once('error', resolve); ws.once('close', resolve) }) }))
  return list
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'shardfarm-abuse-'))
  relay = await startRelay({ dataDir: join(root, 'relay'), log: quiet })
  farmer = await startFarmer({ dataDir: join(root, 'farmer'), relay: relay.addr, quota: 16 * 1024 ** 2, log: quiet })
})

afterAll(async () => {
  for (const s of sockets) s.destroy()
  for (const ws of webSocketsOpen) ws.terminate()
  await Promise.all(attackers.map(async a => { await a.stop() }))
  await farmer?.stop()
  await relay?.stop()
  if (root !== '') await rm(root, { recursive: true, force: true })
})

const inbound = (node: Libp2p): number => node.getConnections().filter(c => c.direction === 'inbound').length

/** `RAW` silent TCP sockets and `RAW` mute WebSockets to each of the relay and the farmer. */
async function halfOpen (): Promise<{ mutes: WebSocket[], silents: Socket[], started: number }> {
  const first = sockets.length
  silent(portOf(relay.addr), RAW)
  silent(portOf(farmer.addr), RAW)
  const mutes = (await Promise.all([mute(portOf(relay.addr), RAW), mute(portOf(farmer.addr), RAW)])).flat()
  // Wait for the listeners to have seen (and capped) them all.
  await sleep(200)
  const open = mutes.filter(ws => ws.readyState === WebSocket.OPEN).length
  const quiet = sockets.slice(first).filter(s => !s.closed).length
  console.log(`mute WebSockets still open: ${open} of ${mutes.length}; silent sockets: ${quiet} of ${2 * RAW}`)
  expect(open).toBeLessThanOrEqual(2 * CONNECTION_LIMITS.pendingPerIp)
  expect(quiet).toBeLessThanOrEqual(2 * CONNECTION_LIMITS.socketsPerIp)
  return { mutes, silents: sockets.slice(first), started: Date.now() - 200 }
}

/** A fresh client's directory query to the relay and PUT to the farmer, each within 2 s. */
async function honestClient (): Promise<void> {
  const client = await createNodeLibp2p({ identify: false })
  try {
    let t = Date.now()
    const listings = await queryDirectory(client, multiaddr(relay.addr), {}, { timeoutMs: 2_000 })
    const queryMs = Date.now() - t
    expect(listings.map(l => l.peerId)).toContain(farmer.libp2p.peerId.toString())
    const { id, bytes } = await randomFragment(64 * 1024)
    t = Date.now()
    await new FarmerClient({ libp2p: client }).put(multiaddr(farmer.addr), id, bytes, { owner: await generateOwnerKey(), signal: AbortSignal.timeout(2_000) })
    const putMs = Date.now() - t
    console.log(`under attack: directory query ${queryMs} ms, PUT ${putMs} ms`)
    expect(queryMs).toBeLessThan(2_000)
    expect(putMs).toBeLessThan(2_000)
  } finally {
    await client.stop()
  }
}

/** The listeners drop every socket that never finished its handshake within the handshake timeout. */
async function expectDropped ({ mutes, silents, started }: Awaited<ReturnType<typeof halfOpen>>): Promise<void> {
  const deadline = started + CONNECTION_LIMITS.handshakeTimeout + 1_500
  const open = (): number => mutes.filter(ws => ws.readyState !== WebSocket.CLOSED).length + silents.filter(s => !s.closed).length
  while (Date.now() < deadline && open() > 0) await sleep(100)
  console.log(`half-open sockets left after ${Date.now() - started} ms: ${open()}`)
  expect(open()).toBe(0)
}

it('sockets that never finish a handshake do not block a fresh client, and are dropped within the timeout', async () => {
  const attack = await halfOpen()
  await honestClient()
  await expectDropped(attack)
})

it('idle finished connections beyond the per-IP cap do not block a fresh client either', async () => {
  const [a1, a2] = [await attacker(), await attacker()]
  const t0 = Date.now()
  const [toRelay, toFarmer] = await Promise.all([
    holdIdle(a1, multiaddr(relay.addr), IDLE),
    holdIdle(a2, multiaddr(farmer.addr), IDLE)
  ])
  console.log(`idle connections opened in ${Date.now() - t0} ms: relay ${toRelay}, farmer ${toFarmer}; inbound held: relay ${inbound(relay.libp2p)}, farmer ${inbound(farmer.libp2p)}`)
  await sleep(1_100) // a fresh per-host rate-limit window (100/s) for what follows
  const attack = await halfOpen()
  await honestClient()
  // The attacker keeps no more than its per-IP share of either listener.
  for (const node of [relay.libp2p, farmer.libp2p]) expect(inbound(node)).toBeLessThanOrEqual(CONNECTION_LIMITS.inboundPerIp + 2)
  await expectDropped(attack)
}, 180_000) // 600 handshakes on two cores: 20–60 s
