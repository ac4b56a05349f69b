// Directory sync between two relays in this process, over a real libp2p connection on loopback: a
// directory several pages long arrives whole and in order, and an item whose signature does not
// check is dropped while the pages around it are kept.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { Logger } from '../src/core/logger.ts'
import { signFarmerRecord, type FarmerRecord } from '../src/net/protocols/directory.ts'
import { startRelay, type Relay } from './main.ts'

const quiet: Logger = { debug () {}, info () {}, warn () {}, error () {}, child: () => quiet }
const RECORDS = 1_200
const running: Relay[] = []
let root = ''

afterAll(async () => {
  await Promise.all(running.map(async r => { await r.stop() }))
  if (root !== '') await rm(root, { recursive: true, force: true })
})

async function relay (name: string, peers: string[]): Promise<Relay> {
  const r = await startRelay({
    dataDir: join(root, name), log: quiet, vettingPeriodMs: 0, sharedSubnets: true, peers, dialBack: false,
    directory: { ttlMs: 600_000, maxEntries: 10_000, subnetNewPeers: { max: 100_000, windowMs: 60_000 } }
  })
  running.push(r)
  return r
}

describe('directory sync', () => {
  it('brings a new relay every record of a directory several pages long, dropping the one forged', async () => {
    root = await mkdtemp(join(tmpdir(), 'shardfarm-sync-'))
    const source = await relay('a', [])
    const ids: string[] = []
    for (let i = 0; i < RECORDS; i++) {
      const key = await generateKeyPair('Ed25519')
      const peerId = peerIdFromPrivateKey(key).toString()
      const record: FarmerRecord = {
        peerId, addrs: [`/ip4/127.0.0.1/tcp/${10_000 + i}/ws/p2p/${peerId}`], region: 'eu-west', tier: 'live',
        kind: 'full', capacity: 2 ** 40, free: 2 ** 36, version: '0.3.0', seq: Date.now()
      }
      const signed = await signFarmerRecord(key, record)
      const admission = await source.admissions.prepare(peerId, '127.0.0.0/24')
      // One listing carries an admission whose signature is not the relay's: learned as is, it must not travel.
      const forged = i === RECORDS / 2
      source.directory.learn(record, signed, forged ? { ...admission, vettedAt: admission.vettedAt + 1 } : admission)
      if (!forged) ids.push(peerId)
    }
    expect(source.directory.size).toBe(RECORDS)
    const fresh = await relay('b', [source.addr])
    const t0 = Date.now()
    while (fresh.federation.syncs === 0 && Date.now() - t0 < 60_000) await new Promise(resolve => setTimeout(resolve, 50))
    expect(fresh.federation.syncs).toBe(1)
    const listed = fresh.directory.query({ limit: 10_000 }).map(l => l.peerId)
    expect(listed).toEqual(ids.sort())
  }, 120_000)
})
