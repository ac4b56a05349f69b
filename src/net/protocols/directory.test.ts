// The directory protocol between real libp2p nodes on loopback: a relay-side DirectoryService over
// the relay's MemoryDirectoryStore, and farmers/clients dialing it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Libp2p, PrivateKey } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { createNodeLibp2p } from '../libp2p.node.ts'
import { MemoryDirectoryStore } from '../../../relay/directory-store.ts'
import { Announcer } from '../../farmer/announce.ts'
import {
  announceToDirectory, DIRECTORY_PROTOCOL, DirectoryService, leaveDirectory, MAX_REQUEST_BYTES,
  queryDirectory, signFarmerRecord
} from './directory.ts'
import type { FarmerRecord } from './directory.ts'

const GiB = 1024 ** 3
let relay: Libp2p
let registry: MemoryDirectoryStore
let relayAddr: ReturnType<typeof multiaddr>
const farmers: Array<{ node: Libp2p, key: PrivateKey }> = []

function recordOf (f: { node: Libp2p }, over: Partial<FarmerRecord> = {}): FarmerRecord {
  return {
    peerId: f.node.peerId.toString(), addrs: ['/ip4/127.0.0.1/tcp/1234/ws'], region: 'eu-west', tier: 'live',
    kind: 'full', capacity: 10 * GiB, free: 5 * GiB, version: '0.1.0', seq: Date.now(), ...over
  }
}

beforeAll(async () => {
  relay = await createNodeLibp2p({ listen: ['/ip4/127.0.0.1/tcp/0/ws'] })
  registry = new MemoryDirectoryStore({ ttlMs: 400 })
  await new DirectoryService({ libp2p: relay, registry }).start()
  relayAddr = relay.getMultiaddrs()[0]!
  for (let i = 0; i < 3; i++) {
    const key = await generateKeyPair('Ed25519')
    farmers.push({ node: await createNodeLibp2p({ privateKey: key }), key })
  }
})

afterAll(async () => {
  await Promise.all([relay, ...farmers.map(f => f.node)].map(async n => await n.stop()))
})

describe('directory protocol', () => {
  it('lists announced farmers under the connection peer id and filters them', async () => {
    const [a, b, c] = farmers as [typeof farmers[0], typeof farmers[0], typeof farmers[0]]
    await announceToDirectory(a.node, relayAddr, await signFarmerRecord(a.key, recordOf(a, { region: 'eu-west', free: 3 * GiB })))
    await announceToDirectory(b.node, relayAddr, await signFarmerRecord(b.key, recordOf(b, { region: 'us-east', tier: 'archive', free: 9 * GiB })))
    await announceToDirectory(c.node, relayAddr, await signFarmerRecord(c.key, recordOf(c, { region: 'eu-central', kind: 'light', free: 1 * GiB })))

    const all = await queryDirectory(c.node, relayAddr)
    expect(all.map(l => l.peerId)).toEqual([b, a, c].map(f => f.node.peerId.toString())) // most free first
    expect(all[1]!.addrs).toEqual([`/ip4/127.0.0.1/tcp/1234/ws/p2p/${a.node.peerId.toString()}`])
    expect((await queryDirectory(a.node, relayAddr, { regions: ['eu-west', 'eu-central'] })).length).toBe(2)
    expect((await queryDirectory(a.node, relayAddr, { tier: 'archive' })).map(l => l.peerId)).toEqual([b.node.peerId.toString()])
    expect((await queryDirectory(a.node, relayAddr, { kind: 'light' })).map(l => l.region)).toEqual(['eu-central'])
    expect((await queryDirectory(a.node, relayAddr, { minFree: 2 * GiB, limit: 1 })).map(l => l.free)).toEqual([9 * GiB])
  })

  it('refuses a record for another peer, a forged signature and a replayed heartbeat', async () => {
    const [a, b] = farmers as [typeof farmers[0], typeof farmers[0]]
    const forA = await signFarmerRecord(a.key, recordOf(a, { seq: Date.now() + 10 }))
    await expect(announceToDirectory(b.node, relayAddr, forA)).rejects.toMatchObject({ name: 'DirectoryError', code: 'FORBIDDEN' })

    const tampered = { ...forA, record: forA.record.replace(/"free":\d+/, `"free":${10 * GiB}`) }
    await expect(announceToDirectory(a.node, relayAddr, tampered)).rejects.toMatchObject({ code: 'FORBIDDEN' })

    await announceToDirectory(a.node, relayAddr, forA)
    await expect(announceToDirectory(a.node, relayAddr, forA)).rejects.toMatchObject({ code: 'STALE_RECORD' })
  })

  it('answers oversized and malformed frames with typed codes and keeps serving', async () => {
    const [a] = farmers as [typeof farmers[0]]
    const ask = async (frame: Uint8Array): Promise<unknown> => {
      const stream = await a.node.dialProtocol(relayAddr, DIRECTORY_PROTOCOL)
      const lp = lpStream(stream)
      await lp.write(frame)
      return JSON.parse(new TextDecoder().decode((await lp.read()).subarray()))
    }
    expect(await ask(new Uint8Array(MAX_REQUEST_BYTES + 1))).toMatchObject({ ok: false, code: 'TOO_LARGE' })
    expect(await ask(new TextEncoder().encode('{"op":'))).toMatchObject({ ok: false, code: 'BAD_REQUEST' })
    expect(await ask(new TextEncoder().encode('{"op":"query","filter":{"limit":1e9}}'))).toMatchObject({ ok: false, code: 'BAD_REQUEST' })
    const bad = recordOf(a, { addrs: Array.from({ length: 20 }, () => '/ip4/127.0.0.1/tcp/1/ws') })
    await expect(announceToDirectory(a.node, relayAddr, await signFarmerRecord(a.key, bad))).rejects.toMatchObject({ code: 'BAD_REQUEST' })
    expect((await queryDirectory(a.node, relayAddr)).length).toBeGreaterThan(0)
  })

  it('forgets a farmer that leaves at once, and one that goes silent after the TTL', async () => {
    const [a, b] = farmers as [typeof farmers[0], typeof farmers[0]]
    await announceToDirectory(a.node, relayAddr, await signFarmerRecord(a.key, recordOf(a, { seq: Date.now() + 100 })))
    expect(await leaveDirectory(a.node, relayAddr)).toBe(true)
    const ids = async (): Promise<string[]> => (await queryDirectory(b.node, relayAddr)).map(l => l.peerId)
    expect(await ids()).not.toContain(a.node.peerId.toString())

    const { ttlMs } = await announceToDirectory(b.node, relayAddr, await signFarmerRecord(b.key, recordOf(b, { seq: Date.now() + 100 })))
    expect(ttlMs).toBe(400)
    expect(await ids()).toContain(b.node.peerId.toString())
    await new Promise(resolve => setTimeout(resolve, ttlMs + 50))
    expect(await ids()).not.toContain(b.node.peerId.toString())
  })

  it('an Announcer keeps a farmer listed past the TTL and removes it on stop', async () => {
    const [, , c] = farmers as [typeof farmers[0], typeof farmers[0], typeof farmers[0]]
    const announcer = new Announcer(
      { libp2p: c.node, privateKey: c.key, stat: async () => ({ capacity: 100, used: 40, free: 60, count: 2 }) },
      { relay: relayAddr, region: 'us-east', tier: 'live', kind: 'full', version: '0.1.0', intervalMs: 10_000 })
    await announcer.start()
    await new Promise(resolve => setTimeout(resolve, 1_000)) // 2.5 TTLs: only the TTL/3 heartbeat keeps it
    const listed = await queryDirectory(farmers[0]!.node, relayAddr, { regions: ['us-east'] })
    expect(announcer.ok).toBeGreaterThanOrEqual(3)
    await announcer.stop()
    expect(listed.map(l => l.free)).toEqual([60])
    expect((await queryDirectory(farmers[0]!.node, relayAddr, { regions: ['us-east'] })).length).toBe(0)
  })

  it('an Announcer stopped while a heartbeat is on its way stays removed', async () => {
    const [, , c] = farmers as [typeof farmers[0], typeof farmers[0], typeof farmers[0]]
    let release: () => void = () => {}
    const hold = new Promise<void>(resolve => { release = resolve })
    let holding = false
    let entered: () => void = () => {}
    const inBeat = new Promise<void>(resolve => { entered = resolve })
    const announcer = new Announcer(
      { libp2p: c.node, privateKey: c.key, stat: async () => { if (holding) { entered(); await hold } return { capacity: 100, used: 40, free: 60, count: 2 } } },
      { relay: relayAddr, region: 'us-east', tier: 'live', kind: 'full', version: '0.1.0', intervalMs: 50 })
    await announcer.start()
    holding = true
    await inBeat // the next heartbeat has begun, and waits here before it announces
    const stopped = announcer.stop()
    setTimeout(release, 50)
    await stopped
    await new Promise(resolve => setTimeout(resolve, 200))
    expect((await queryDirectory(farmers[0]!.node, relayAddr, { regions: ['us-east'] })).map(l => l.peerId)).not.toContain(c.node.peerId.toString())
  })
})
