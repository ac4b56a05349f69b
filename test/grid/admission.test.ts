// What the relay vouches for about each farmer it lists, checked with a relay built as its process
// builds it (startRelay) and farmers announcing over real libp2p on 127.0.0.1: when it first saw
// them (kept across a restart), their subnet and vetting, signed with the relay's key; and a
// client that believes only admissions that check against the relay it asked.
// Its relays do not dial farmers back (`dialBack: false`): records here name made-up addresses;
// test/grid/dial-back.test.ts covers the dial-back.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Libp2p } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { startRelay } from '../../relay/main.ts'
import type { Relay } from '../../relay/main.ts'
import { RelayDirectory } from '../../src/client/adapters/libp2p-ports.ts'
import type { Logger } from '../../src/core/logger.ts'
import { place } from '../../src/core/placement.ts'
import { normalizePolicy } from '../../src/core/policy.ts'
import { createNodeLibp2p } from '../../src/net/libp2p.node.ts'
import { signAdmission, verifyAdmission } from '../../src/net/protocols/directory-admission.ts'
import { announceToDirectory, DIRECTORY_PROTOCOL, queryDirectoryPage, signFarmerRecord } from '../../src/net/protocols/directory.ts'
import type { FarmerListing } from '../../src/net/protocols/directory.ts'
import { recordOf, startDirectoryFarmers } from '../support/test-directory.ts'
import type { TestDirectoryFarmer } from '../support/test-directory.ts'

const quiet: Logger = { debug () {}, info () {}, warn () {}, error () {}, child: () => quiet }
const VETTING = 60_000

let root = ''
let client: Libp2p
let farmers: TestDirectoryFarmer[] = []

async function announceAll (relay: Relay): Promise<void> {
  for (const f of farmers) await announceToDirectory(f.node, multiaddr(relay.addr), await signFarmerRecord(f.key, recordOf(f, { seq: Date.now() })))
}

async function listings (relay: Relay): Promise<FarmerListing[]> {
  return (await queryDirectoryPage(client, multiaddr(relay.addr))).farmers
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'shardfarm-admission-'))
  client = await createNodeLibp2p()
  farmers = await startDirectoryFarmers(3)
})

afterAll(async () => {
  await Promise.all(farmers.map(async f => { await f.node.stop() }))
  await client?.stop()
  if (root !== '') await rm(root, { recursive: true, force: true })
})

describe('relay admissions', () => {
  it('lists when and where each farmer was first seen, signed by the relay, and keeps firstSeen across a restart', async () => {
    const dataDir = join(root, 'relay')
    let relay = await startRelay({ dataDir, log: quiet, vettingPeriodMs: VETTING, dialBack: false })
    let first: FarmerListing[]
    try {
      const before = Date.now()
      await announceAll(relay)
      first = await listings(relay)
      expect(first).toHaveLength(3)
      const relayId = relay.libp2p.peerId.toString()
      for (const l of first) {
        expect(l.firstSeen).toBeGreaterThanOrEqual(before)
        expect(l.subnet).toBe('127.0.0.0/24')
        expect(l.vettedAt).toBe(l.firstSeen! + VETTING)
        const admission = { firstSeen: l.firstSeen!, subnet: l.subnet!, vettedAt: l.vettedAt!, admission: l.admission! }
        expect(await verifyAdmission(relayId, l.peerId, admission)).toBe(true)
        // Moved to another farmer, vetted sooner, or checked against another relay: it fails.
        expect(await verifyAdmission(relayId, first.find(x => x.peerId !== l.peerId)!.peerId, admission)).toBe(false)
        expect(await verifyAdmission(relayId, l.peerId, { ...admission, vettedAt: 0 })).toBe(false)
        expect(await verifyAdmission(client.peerId.toString(), l.peerId, admission)).toBe(false)
      }
      // The client passes them on to placement; this relay does not say its farmers share a subnet.
      const directory = new RelayDirectory(client, relay.addr)
      const listed = await directory.list()
      expect(directory.sharedSubnets).toBe(false)
      for (const f of listed) expect(f).toMatchObject({ subnet: '127.0.0.0/24', vettedAt: first.find(l => l.peerId === f.peerId)!.vettedAt })
      expect(listed.some(f => f.sharedSubnets === true)).toBe(false)
    } finally {
      await relay.stop()
    }

    // Restarted on the same data directory, with another vetting period and for a single-host grid.
    relay = await startRelay({ dataDir, log: quiet, vettingPeriodMs: 1_000, sharedSubnets: true, dialBack: false })
    try {
      await announceAll(relay)
      const again = await listings(relay)
      for (const l of again) {
        const was = first.find(x => x.peerId === l.peerId)!
        expect(l.firstSeen).toBe(was.firstSeen)
        expect(l.vettedAt).toBe(was.firstSeen! + 1_000)
      }
      expect((await queryDirectoryPage(client, multiaddr(relay.addr))).sharedSubnets).toBe(true)
      const directory = new RelayDirectory(client, relay.addr)
      const listed = await directory.list()
      expect(directory.sharedSubnets).toBe(true)
      expect(listed.every(f => f.sharedSubnets === true)).toBe(true)
    } finally {
      await relay.stop()
    }
  })

  it('a client counts a listing whose admission another key signed as new, on a subnet of its own', async () => {
    const relayKey = await generateKeyPair('Ed25519')
    const fake = await createNodeLibp2p({ privateKey: relayKey, listen: ['/ip4/127.0.0.1/tcp/0/ws'] })
    try {
      const forger = await generateKeyPair('Ed25519')
      const listing = async (f: TestDirectoryFarmer, key: typeof forger): Promise<object> => ({
        ...recordOf(f, { addrs: [`/ip4/127.0.0.1/tcp/1/ws/p2p/${f.node.peerId.toString()}`] }), lastSeen: 1, expiresAt: 2,
        ...await signAdmission(key, f.node.peerId.toString(), { firstSeen: 0, subnet: `10.0.${farmers.indexOf(f)}.0/24`, vettedAt: 0 })
      })
      await fake.handle(DIRECTORY_PROTOCOL, async (stream) => {
        const lp = lpStream(stream)
        await lp.read()
        // Every admission claims vetting long over; only farmer 1's is signed by the relay the client asks.
        const out = await Promise.all(farmers.map(async (f, i) => await listing(f, i === 1 ? relayKey : forger)))
        await lp.write(new TextEncoder().encode(JSON.stringify({ ok: true, farmers: out })))
        await stream.close()
      })
      const listed = await new RelayDirectory(client, fake.getMultiaddrs()[0]!).list()
      expect(listed).toHaveLength(3)
      for (const f of listed) {
        const honest = f.peerId === farmers[1]!.node.peerId.toString()
        expect(f.vettedAt).toBe(honest ? 0 : undefined)
        expect(f.subnet).toBe(honest ? '10.0.1.0/24' : undefined)
      }
      // New farmers together take one fragment of a segment at most: one vetted and two new cannot hold a 2 + 1 file.
      expect(() => place(normalizePolicy({ k: 2, m: 1 }), listed, { fragmentSize: 1, segments: 1 })).toThrow(/2 of them are new/)
    } finally {
      await fake.stop()
    }
  })
})
