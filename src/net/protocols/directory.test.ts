// The directory protocol between real libp2p nodes on loopback: a relay-side DirectoryService over
// the relay's MemoryDirectoryStore (see test/support/test-directory.ts), and farmers/clients dialing it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Multiaddr } from '@multiformats/multiaddr'
import { lpStream } from '@libp2p/utils'
import { recordOf, startDirectoryFarmers, startTestDirectory } from '../../../test/support/test-directory.ts'
import type { TestDirectory, TestDirectoryFarmer } from '../../../test/support/test-directory.ts'
import {
  announceToDirectory, DIRECTORY_PROTOCOL, leaveDirectory, MAX_REQUEST_BYTES, queryDirectory, signFarmerRecord
} from './directory.ts'

const GiB = 1024 ** 3
let directory: TestDirectory
let relayAddr: Multiaddr
let farmers: TestDirectoryFarmer[] = []

beforeAll(async () => {
  directory = await startTestDirectory(400)
  relayAddr = directory.addr
  farmers = await startDirectoryFarmers(3)
})

afterAll(async () => {
  await Promise.all([directory.stop(), ...farmers.map(async f => { await f.node.stop() })])
})

describe('directory protocol', () => {
  it('lists announced farmers under the connection peer id and filters them', async () => {
    const [a, b, c] = farmers as [typeof farmers[0], typeof farmers[0], typeof farmers[0]]
    await announceToDirectory(a.node, relayAddr, await signFarmerRecord(a.key, recordOf(a, { region: 'eu-west', free: 3 * GiB })))
    await announceToDirectory(b.node, relayAddr, await signFarmerRecord(b.key, recordOf(b, { region: 'us-east', tier: 'archive', free: 9 * GiB })))
    await announceToDirectory(c.node, relayAddr, await signFarmerRecord(c.key, recordOf(c, { region: 'eu-central', kind: 'light', free: 1 * GiB })))

    const all = await queryDirectory(c.node, relayAddr)
    expect(all.map(l => l.peerId)).toEqual([a, b, c].map(f => f.node.peerId.toString()).sort()) // peer id order
    expect(all.find(l => l.peerId === a.node.peerId.toString())!.addrs).toEqual([`/ip4/127.0.0.1/tcp/1234/ws/p2p/${a.node.peerId.toString()}`])
    expect((await queryDirectory(a.node, relayAddr, { regions: ['eu-west', 'eu-central'] })).length).toBe(2)
    expect((await queryDirectory(a.node, relayAddr, { tier: 'archive' })).map(l => l.peerId)).toEqual([b.node.peerId.toString()])
    expect((await queryDirectory(a.node, relayAddr, { kind: 'light' })).map(l => l.region)).toEqual(['eu-central'])
    const big = [a, b].map(f => f.node.peerId.toString()).sort()[0]
    expect((await queryDirectory(a.node, relayAddr, { minFree: 2 * GiB, limit: 1 })).map(l => l.peerId)).toEqual([big])
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
})
