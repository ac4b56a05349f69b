// Three relays federated over gossipsub, with real farmer processes each announcing to one relay:
// every relay lists every farmer, a relay restarted with no state catches up by sync, a farmer that
// stops is gone from all of them at once, and records a hostile gossipsub node publishes straight
// onto the topic (bad signature, old seq, forged relay record) are dropped by every relay.
// Its relays do not dial farmers back (`dialBack: false`): records here name made-up addresses;
// test/grid/dial-back.test.ts covers the dial-back.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { gossipsub } from '@libp2p/gossipsub'
import type { GossipSub } from '@libp2p/gossipsub'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Libp2p } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import type { Logger } from '../../src/core/logger.ts'
import { createNodeLibp2p } from '../../src/net/libp2p.node.ts'
import { signAdmission } from '../../src/net/protocols/directory-admission.ts'
import { announceToDirectory, queryDirectoryPage, signFarmerRecord } from '../../src/net/protocols/directory.ts'
import type { DirectoryPage } from '../../src/net/protocols/directory.ts'
import { RelayDirectory } from '../../src/client/adapters/libp2p-ports.ts'
import { startRelay } from '../../relay/main.ts'
import type { Relay } from '../../relay/main.ts'
import { DIRECTORY_TOPIC, signRelayRecord } from '../../relay/gossip-records.ts'
import { renderRelayMetrics } from '../../relay/http.ts'
import { recordOf, startDirectoryFarmers } from '../support/test-directory.ts'
import type { TestDirectoryFarmer } from '../support/test-directory.ts'
import { Grid, peerOf } from './helpers.ts'
import type { TestChild } from './helpers.ts'

const quiet: Logger = { debug () {}, info () {}, warn () {}, error () {}, child: () => quiet }
const TTL_MS = 30_000
const grid = new Grid()
let root = ''
let client: Libp2p
const relays: Relay[] = []
const farmers: TestChild[] = []

async function relay (name: string, peers: string[]): Promise<Relay> {
  return await startRelay({ dataDir: join(root, name), log: quiet, vettingPeriodMs: 0, sharedSubnets: true, peers, directory: { ttlMs: TTL_MS }, dialBack: false })
}

async function page (r: Relay): Promise<DirectoryPage> {
  return await queryDirectoryPage(client, multiaddr(r.addr), { limit: 1000 })
}

/** Polls every relay until `ok` holds for all of them; returns how long it took, in ms. */
async function untilAll (rs: Relay[], ok: (p: DirectoryPage) => boolean, withinMs: number): Promise<number> {
  const started = Date.now()
  let last: DirectoryPage[] = []
  while (Date.now() - started < withinMs) {
    last = await Promise.all(rs.map(page))
    if (last.every(ok)) return Date.now() - started
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  throw new Error(`not on every relay within ${withinMs} ms: ${JSON.stringify(last.map(p => p.farmers.map(l => l.peerId)))}`)
}

const ids = (p: DirectoryPage): string[] => p.farmers.map(l => l.peerId).sort()

beforeAll(async () => {
  await grid.init()
  root = await mkdtemp(join(tmpdir(), 'shardfarm-federation-'))
  relays.push(await relay('r0', []))
  relays.push(await relay('r1', [relays[0]!.addr]))
  relays.push(await relay('r2', [relays[0]!.addr, relays[1]!.addr]))
  client = await createNodeLibp2p()
}, 30_000)

afterAll(async () => {
  await client?.stop()
  await Promise.all(relays.map(async r => { await r.stop() }))
  await grid.destroy()
  if (root !== '') await rm(root, { recursive: true, force: true })
})

describe('relays federated over gossipsub', () => {
  it('lists on every relay each farmer that announced to one of them, within 3 s of its start', async () => {
    await new Promise(resolve => setTimeout(resolve, 1_500)) // the relays' meshes form (gossipsub heartbeat: 1 s)
    // Started in parallel; each one's 3 s count from when its process printed its address (it is up).
    await Promise.all([0, 1, 2].map(async i => {
      const f = await grid.farmer(`farmer-${i}`, relays[i]!.addr, ['--quota', '1MiB', '--heartbeat', '1000'])
      const started = Date.now()
      farmers[i] = f
      await untilAll(relays, p => p.farmers.some(l => l.peerId === peerOf(f.addr)), 3_000 - (Date.now() - started))
    }))
    const all = farmers.map(f => peerOf(f.addr)).sort()
    for (const r of relays) {
      const p = await page(r)
      expect(ids(p)).toEqual(all)
      // Gossiped listings carry the admitting relay's signature and name it; the answer lists all relays.
      for (const l of p.farmers) expect(l.admission).toMatch(/^[0-9a-f]{128}$/)
      expect(p.relays?.map(x => x.peerId).sort()).toEqual(relays.map(x => x.libp2p.peerId.toString()).sort())
    }
    // A client asking relay 2 takes the admissions relays 0 and 1 signed (they are in relay 2's answer):
    // every farmer comes with its network and vetting time, as if it had announced to relay 2.
    const listed = await new RelayDirectory(client, relays[2]!.addr).list()
    expect(listed.map(f => f.peerId).sort()).toEqual(all)
    for (const f of listed) expect(f).toMatchObject({ subnet: expect.any(String), vettedAt: expect.any(Number) })
  }, 60_000)

  it('a relay restarted with no state lists the same farmers within 2 s, by sync', async () => {
    await relays[2]!.stop()
    await rm(join(root, 'r2'), { recursive: true, force: true })
    const started = Date.now()
    relays[2] = await relay('r2', [relays[0]!.addr])
    const all = farmers.map(f => peerOf(f.addr)).sort()
    await untilAll([relays[2]], p => ids(p).join() === all.join(), 2_000 - (Date.now() - started))
    expect(relays[2].federation.syncs).toBeGreaterThan(0)
  }, 30_000)

  it('a farmer that stops is gone from every relay within 1 s', async () => {
    const gone = peerOf(farmers[1]!.addr)
    expect(await grid.stop(farmers[1]!)).toBe(0)
    const took = await untilAll(relays, p => !p.farmers.some(l => l.peerId === gone), 1_000)
    expect(took).toBeLessThan(1_000)
    await untilAll(relays, p => p.farmers.some(l => l.peerId === peerOf(farmers[0]!.addr)), 1_000) // the others stay
  }, 30_000)

  describe('a hostile gossipsub node publishing onto the topic', () => {
    let hostile: Libp2p
    let pubsub: GossipSub
    let victims: TestDirectoryFarmer[] = []
    const publish = async (msg: object): Promise<void> => { await pubsub.publish(DIRECTORY_TOPIC, new TextEncoder().encode(JSON.stringify(msg))) }
    let hostileKey: Awaited<ReturnType<typeof generateKeyPair>>
    /** The hostile node's own admission: valid, so what is dropped is dropped for the record itself. */
    const admit = async (peerId: string): Promise<object> => await signAdmission(hostileKey, peerId, { firstSeen: 1, subnet: '127.0.0.0/24', vettedAt: 1 })

    beforeAll(async () => {
      hostileKey = await generateKeyPair('Ed25519')
      hostile = await createNodeLibp2p({ privateKey: hostileKey, services: { pubsub: gossipsub({ allowPublishToZeroTopicPeers: true }) } })
      pubsub = (hostile.services as { pubsub: GossipSub }).pubsub
      pubsub.subscribe(DIRECTORY_TOPIC)
      await hostile.dial(multiaddr(relays[0]!.addr))
      const start = Date.now()
      while (!pubsub.getSubscribers(DIRECTORY_TOPIC).some(p => p.equals(relays[0]!.libp2p.peerId)) && Date.now() - start < 5_000) {
        await new Promise(resolve => setTimeout(resolve, 50))
      }
      victims = await startDirectoryFarmers(3)
    }, 30_000)

    afterAll(async () => {
      await Promise.all(victims.map(async v => { await v.node.stop() }))
      await hostile?.stop()
    })

    it('drops a record with a bad signature on every relay, while the same record signed right spreads', async () => {
      const [v0, v1] = victims as [TestDirectoryFarmer, TestDirectoryFarmer]
      const id0 = v0.node.peerId.toString()
      const id1 = v1.node.peerId.toString()
      const good = await signFarmerRecord(v1.key, recordOf(v1, { seq: Date.now() }))
      const forged = await signFarmerRecord(v1.key, recordOf(v0, { seq: Date.now() })) // v0's record, v1's key
      await publish({ t: 'farmer', signed: forged, admission: await admit(id0), by: hostile.peerId.toString() })
      await publish({ t: 'farmer', signed: good, admission: await admit(id1), by: hostile.peerId.toString() })
      await untilAll(relays, p => p.farmers.some(l => l.peerId === id1), 2_000)
      for (const r of relays) expect(ids(await page(r))).not.toContain(id0)
      // The relays the hostile node reached count the forgery as rejected, and say so on /metrics.
      const rejected = relays.map(r => r.federation.verdicts.reject)
      const most = Math.max(...rejected)
      expect(most).toBeGreaterThan(0)
      expect(renderRelayMetrics(relays[rejected.indexOf(most)]!)).toContain(`shardfarm_relay_gossip_messages_total{verdict="reject"} ${most}`)
      // Its admission is the hostile node's, a signer no relay lists: a client takes the record but
      // not the admission, so the farmer counts as new (no network, never vetted).
      const seen = (await new RelayDirectory(client, relays[1]!.addr).list()).find(f => f.peerId === id1)
      expect(seen).toBeDefined()
      expect(seen?.vettedAt).toBeUndefined()
      expect(seen?.subnet).toBeUndefined()
    })

    it('drops a record with an old seq on every relay', async () => {
      const v = victims[2]!
      const id = v.node.peerId.toString()
      const seq = Date.now()
      await announceToDirectory(v.node, multiaddr(relays[0]!.addr), await signFarmerRecord(v.key, recordOf(v, { seq, free: 500 })))
      await untilAll(relays, p => p.farmers.some(l => l.peerId === id), 2_000)
      await publish({ t: 'farmer', signed: await signFarmerRecord(v.key, recordOf(v, { seq: seq - 1_000, free: 7 })), admission: await admit(id), by: hostile.peerId.toString() })
      await new Promise(resolve => setTimeout(resolve, 500))
      for (const r of relays) expect((await page(r)).farmers.find(l => l.peerId === id)).toMatchObject({ seq, free: 500 })
    })

    it('drops a forged relay record on every relay', async () => {
      const honest = relays[1]!.libp2p.peerId.toString()
      const fake = `/ip4/203.0.113.9/tcp/4001/ws/p2p/${honest}`
      // Claims to be relay 1 with an address of the attacker's choosing, signed with the attacker's key,
      // with a seq a minute ahead so that relay 1's own records would not displace it if it were kept.
      const bad = await signRelayRecord(hostileKey, { peerId: honest, addrs: [fake], seq: Date.now() + 60_000 })
      await publish({ t: 'relay', signed: bad })
      await new Promise(resolve => setTimeout(resolve, 500))
      for (const r of relays) {
        const listed = (await page(r)).relays ?? []
        expect(listed.flatMap(x => x.addrs)).not.toContain(fake)
      }
    })
  })
})
