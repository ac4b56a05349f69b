/**
 * Test fixture: a relay-side directory in the test process (a libp2p node on 127.0.0.1 serving
 * `DirectoryService` over the relay's `MemoryDirectoryStore`), and farmer nodes with their keys.
 * The protocol's tests (net) and the `Announcer`'s (farmer) both need the relay's store, which
 * neither layer may import; the full relay process is the grid tests' business.
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Libp2p, PrivateKey } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import { createNodeLibp2p } from '../../src/net/libp2p.node.ts'
import { DirectoryService } from '../../src/net/protocols/directory.ts'
import type { FarmerRecord } from '../../src/net/protocols/directory.ts'
import { AdmissionBook } from '../../relay/admissions.ts'
import { MemoryDirectoryStore, type MemoryDirectoryStoreInit } from '../../relay/directory-store.ts'

const GiB = 1024 ** 3

/** A running directory. */
export interface TestDirectory {
  node: Libp2p
  registry: MemoryDirectoryStore
  /** When the directory first saw each farmer (in memory only). */
  admissions: AdmissionBook
  addr: Multiaddr
  stop: () => Promise<void>
}

/** A dial-only node and the Ed25519 key its peer id is made from (what signs its records). */
export interface TestDirectoryFarmer { node: Libp2p, key: PrivateKey }

/**
 * Starts a directory whose entries live `ttlMs` without a heartbeat. Like the test relays, it vets
 * farmers at once and says they share a subnet (all are on 127.0.0.1), unless `options` say otherwise;
 * unlike them it does not dial farmers back unless asked (`dialBack`): most records here name
 * made-up addresses.
 */
export async function startTestDirectory (ttlMs: number, options: { vettingSeconds?: number, sharedSubnets?: boolean, store?: MemoryDirectoryStoreInit, dialBack?: boolean } = {}): Promise<TestDirectory> {
  const privateKey = await generateKeyPair('Ed25519')
  const node = await createNodeLibp2p({ privateKey, listen: ['/ip4/127.0.0.1/tcp/0/ws'] })
  const registry = new MemoryDirectoryStore({ ...options.store, ttlMs })
  const admissions = await AdmissionBook.open({ key: privateKey, vettingPeriodMs: (options.vettingSeconds ?? 0) * 1000 })
  const service = new DirectoryService({ libp2p: node, registry, admissions }, { sharedSubnets: options.sharedSubnets ?? true, dialBack: options.dialBack ?? false })
  await service.start()
  const addr = node.getMultiaddrs()[0]
  if (addr === undefined) throw new Error('directory has no address')
  return { node, registry, admissions, addr, stop: async () => { await service.stop(); await node.stop() } }
}

/** Starts `n` farmer nodes, each with its own key. */
export async function startDirectoryFarmers (n: number): Promise<TestDirectoryFarmer[]> {
  return await Promise.all(Array.from({ length: n }, async () => {
    const key = await generateKeyPair('Ed25519')
    return { node: await createNodeLibp2p({ privateKey: key }), key }
  }))
}

/** A valid record for `f`, with `over` changed. */
export function recordOf (f: { node: Libp2p }, over: Partial<FarmerRecord> = {}): FarmerRecord {
  return {
    peerId: f.node.peerId.toString(), addrs: ['/ip4/127.0.0.1/tcp/1234/ws'], region: 'eu-west', tier: 'live',
    kind: 'full', capacity: 10 * GiB, free: 5 * GiB, version: '0.1.0', seq: Date.now(), ...over
  }
}
