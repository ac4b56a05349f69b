// One hostile host against the relay's directory, with real libp2p nodes on 127.0.0.1 and relays
// built as their process builds them (startRelay). Before the limits, any multiaddr was listed:
// ~400 records with control characters in /dns4/ names pushed a client's query past its 4 MiB
// frame limit, and since clients find farmers only there, every put and get failed with it.
// Here: 500 records as large as valid records get are paged under 1 MiB an answer and all listed;
// malformed records are refused; a flood of fresh identities from one network is cut off while an
// honest farmer's heartbeat still lands; and a client keeps its last good list when the relay fails.
// Its relays do not dial farmers back (`dialBack: false`): records here name made-up addresses;
// test/grid/dial-back.test.ts covers the dial-back.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { Libp2p } from '@libp2p/interface'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { multiaddr } from '@multiformats/multiaddr'
import { startRelay } from '../../relay/main.ts'
import type { Relay } from '../../relay/main.ts'
import { RelayDirectory } from '../../src/client/adapters/libp2p-ports.ts'
import { createNodeLibp2p } from '../../src/net/libp2p.node.ts'
import { lpStream } from '@libp2p/utils'
import {
  announceToDirectory, DIRECTORY_PROTOCOL, MAX_ADDR_BYTES, MAX_ADDRS, MAX_PAGE_BYTES, queryDirectoryPage, signFarmerRecord
} from '../../src/net/protocols/directory.ts'
import type { FarmerRecord } from '../../src/net/protocols/directory.ts'
import type { Logger } from '../../src/core/logger.ts'
import { announceMany, exoticAddrs, identity, record } from '../support/directory-flood.ts'

const HOSTILE = 500
const MiB = 1024 * 1024
const quiet: Logger = { debug () {}, info () {}, warn () {}, error () {}, child: () => quiet }

let root = ''
let relay: Relay
let client: Libp2p

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'shardfarm-directory-abuse-'))
  // The network budget is what the flood test below is about; here 500 identities come from 127.0.0.1 on purpose.
  relay = await startRelay({ dataDir: join(root, 'relay'), log: quiet, dialBack: false, directory: { ttlMs: 600_000, subnetNewPeers: { max: Infinity, windowMs: 60_000 } } })
  client = await createNodeLibp2p({ identify: false })
})

afterAll(async () => {
  await client?.stop()
  await relay?.stop()
  if (root !== '') await rm(root, { recursive: true, force: true })
})

describe('directory under a hostile host', () => {
  it('pages 500 records of maximal valid size under 1 MiB an answer, and a client lists them all', async () => {
    const relayId = relay.libp2p.peerId.toString()
    const escapes = '"\\'.repeat(32) // printable, but twice as long in JSON
    let n = 0
    const results = await announceMany(relay.addr, HOSTILE, id => record(id, { addrs: exoticAddrs(relayId, n++), region: escapes, version: escapes }))
    const failed = results.filter(r => r.status === 'rejected')
    expect(failed, String((failed[0] as PromiseRejectedResult | undefined)?.reason)).toHaveLength(0)

    const first = await queryDirectoryPage(client, multiaddr(relay.addr), { limit: 1000 })
    expect(first.more).toBe(true)
    const bytes = JSON.stringify({ ok: true, ...first }).length
    console.log(`first page: ${first.farmers.length} listings, ${bytes} bytes`)
    expect(bytes).toBeLessThan(MAX_PAGE_BYTES + 4096)
    expect(bytes).toBeLessThan(MiB)
    for (const l of first.farmers) {
      expect(l.addrs).toHaveLength(MAX_ADDRS)
      for (const a of l.addrs) expect(a.length).toBe(MAX_ADDR_BYTES)
    }

    const directory = new RelayDirectory(client, relay.addr)
    const all = await directory.list()
    expect(all).toHaveLength(HOSTILE)
    expect(new Set(all.map(f => f.peerId)).size).toBe(HOSTILE)
    expect(directory.stale).toBe(false)
  })

  it('refuses records with control characters, non-LDH names, another peer\'s id, too many addresses or a bad region', async () => {
    const { node, key } = await identity()
    try {
      const id = node.peerId.toString()
      const other = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
      const hostile: Array<Partial<FarmerRecord>> = [
        { addrs: [`/dns4/${'\u0001'.repeat(200)}/tcp/1/ws`] },
        { addrs: ['/dns4/under_score.example/tcp/1/ws'] },
        { addrs: ['/ip4/127.0.0.1/tcp/1/ws', `/ip4/127.0.0.1/tcp/2/ws/p2p/${other}`] },
        { addrs: Array.from({ length: MAX_ADDRS + 1 }, (_, i) => `/ip4/127.0.0.1/tcp/${i + 1}/ws`) },
        { region: 'eu\u0000west' }
      ]
      let seq = Date.now()
      for (const over of hostile) {
        await expect(announceToDirectory(node, multiaddr(relay.addr), await signFarmerRecord(key, record(id, { ...over, seq: ++seq }))))
          .rejects.toMatchObject({ name: 'DirectoryError', code: 'BAD_REQUEST' })
      }
      const listed = await new RelayDirectory(client, relay.addr).list()
      expect(listed.map(f => f.peerId)).not.toContain(id)
    } finally {
      await node.stop()
    }
  })

  it('cuts off a flood of new identities from one network, while a listed farmer\'s heartbeat still lands', async () => {
    // Default budgets, as `shardfarm relay` runs.
    const guarded = await startRelay({ dataDir: join(root, 'guarded'), log: quiet, dialBack: false })
    const honest = await identity()
    try {
      const addr = multiaddr(guarded.addr)
      const id = honest.node.peerId.toString()
      await announceToDirectory(honest.node, addr, await signFarmerRecord(honest.key, record(id)))
      const results = await announceMany(guarded.addr, 80, peerId => record(peerId))
      const refused = results.filter(r => r.status === 'rejected').map(r => (r as PromiseRejectedResult).reason as { name: string, code: string, details: { reason: string } })
      expect(results.length - refused.length).toBe(63) // 64 new ids a minute from 127.0.0.0/24, the honest one included
      for (const err of refused) expect(err).toMatchObject({ name: 'DirectoryError', code: 'BUSY', details: { reason: 'subnet' } })

      await announceToDirectory(honest.node, addr, await signFarmerRecord(honest.key, record(id, { seq: Date.now() + 1 })))
      // The same farmer hammering: a burst of 4, then refused.
      const burst = await Promise.allSettled(Array.from({ length: 8 }, async (_, i) =>
        await announceToDirectory(honest.node, addr, await signFarmerRecord(honest.key, record(id, { seq: Date.now() + 10 + i })))))
      expect(burst.filter(r => r.status === 'rejected').map(r => (r as PromiseRejectedResult).reason)).toContainEqual(expect.objectContaining({ code: 'BUSY', details: expect.objectContaining({ reason: 'peer' }) }))
      expect((await new RelayDirectory(client, guarded.addr).list()).map(f => f.peerId)).toContain(id)
    } finally {
      await honest.node.stop()
      await guarded.stop()
    }
  })

  it('a client keeps its last good list, marked stale, when the relay stops answering', async () => {
    const told: Error[] = []
    const directory = new RelayDirectory(client, relay.addr, { onStale: err => told.push(err) })
    const before = await directory.list()
    expect(before.length).toBeGreaterThanOrEqual(HOSTILE)
    await relay.stop()
    const after = await directory.list()
    expect(after).toEqual(before)
    expect(directory.stale).toBe(true)
    expect(told).toHaveLength(1)
    expect(directory.lastError).toBe(told[0])
    // With no good list yet there is nothing to fall back on: the failure shows.
    await expect(new RelayDirectory(client, relay.addr).list()).rejects.toThrow()
  })
})

describe('a client under a hostile relay', () => {
  it('lists only well-formed farmers, and stops when the relay pages in circles', async () => {
    const fake = await createNodeLibp2p({ listen: ['/ip4/127.0.0.1/tcp/0/ws'] })
    try {
      const ids = await Promise.all(Array.from({ length: 3 }, async () => peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()))
      const [good, ctrl, foreign] = ids as [string, string, string]
      const listing = (peerId: string, addrs: string[]): object => ({ ...record(peerId, { addrs }), lastSeen: 1, expiresAt: 2 })
      const farmers = [
        listing(good, [`/ip4/127.0.0.1/tcp/1/ws/p2p/${good}`]),
        listing(ctrl, [`/dns4/${'\u0001'.repeat(100)}/tcp/1/ws/p2p/${ctrl}`]),
        listing(foreign, [`/ip4/127.0.0.1/tcp/1/ws/p2p/${good}`])
      ]
      let asked = 0
      await fake.handle(DIRECTORY_PROTOCOL, async (stream) => {
        asked++
        const lp = lpStream(stream)
        await lp.read()
        await lp.write(new TextEncoder().encode(JSON.stringify({ ok: true, farmers, more: true, next: good })))
        await stream.close()
      })
      const listed = await new RelayDirectory(client, fake.getMultiaddrs()[0]!).list()
      expect(listed.map(f => f.peerId)).toEqual([good])
      expect(asked).toBe(2) // the first page, then one that did not move forward
    } finally {
      await fake.stop()
    }
  })
})
