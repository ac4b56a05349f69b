// The Announcer against a real relay-side directory on loopback (test/support/test-directory.ts):
// heartbeats keep a farmer listed past the TTL, and a stop removes it for good.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { queryDirectory } from '../net/protocols/directory.ts'
import { startDirectoryFarmers, startTestDirectory } from '../../test/support/test-directory.ts'
import type { TestDirectory, TestDirectoryFarmer } from '../../test/support/test-directory.ts'
import { Announcer } from './announce.ts'

let directory: TestDirectory
/** Queries the directory. */
let observer: TestDirectoryFarmer
/** Announces itself. */
let farmer: TestDirectoryFarmer

beforeAll(async () => {
  // A heartbeat every TTL/3 is 7 a second here: a budget that takes them (the relay's default, one
  // a second, is for heartbeats of a second and more; the last test is about that budget).
  directory = await startTestDirectory(400, { store: { peerAnnounces: { burst: 10, refillMs: 50 } } })
  ;[observer, farmer] = await startDirectoryFarmers(2) as [TestDirectoryFarmer, TestDirectoryFarmer]
  // Connect both now: a first dial (a Noise handshake) inside a 400 ms TTL test, on a busy
  // machine, can take long enough for the farmer's entry to lapse.
  await Promise.all([observer, farmer].map(async f => await queryDirectory(f.node, directory.addr)))
})

afterAll(async () => {
  await Promise.all([directory.stop(), observer.node.stop(), farmer.node.stop()])
})

describe('Announcer', () => {
  it('keeps a farmer listed past the TTL and removes it on stop', async () => {
    const announcer = new Announcer(
      { libp2p: farmer.node, privateKey: farmer.key, stat: async () => ({ capacity: 100, used: 40, free: 60, count: 2 }) },
      { relay: directory.addr, region: 'us-east', tier: 'live', kind: 'full', version: '0.1.0', intervalMs: 10_000 })
    await announcer.start()
    await new Promise(resolve => setTimeout(resolve, 1_000)) // 2.5 TTLs: only the TTL/3 heartbeat keeps it
    const listed = await queryDirectory(observer.node, directory.addr, { regions: ['us-east'] })
    expect(announcer.ok).toBeGreaterThanOrEqual(3)
    await announcer.stop()
    expect(listed.map(l => l.free)).toEqual([60])
    expect((await queryDirectory(observer.node, directory.addr, { regions: ['us-east'] })).length).toBe(0)
  })

  it('stopped while a heartbeat is on its way stays removed', async () => {
    let release: () => void = () => {}
    const hold = new Promise<void>(resolve => { release = resolve })
    let holding = false
    let entered: () => void = () => {}
    const inBeat = new Promise<void>(resolve => { entered = resolve })
    const announcer = new Announcer(
      { libp2p: farmer.node, privateKey: farmer.key, stat: async () => { if (holding) { entered(); await hold } return { capacity: 100, used: 40, free: 60, count: 2 } } },
      { relay: directory.addr, region: 'us-east', tier: 'live', kind: 'full', version: '0.1.0', intervalMs: 50 })
    await announcer.start()
    holding = true
    await inBeat // the next heartbeat has begun, and waits here before it announces
    const stopped = announcer.stop()
    setTimeout(release, 50)
    await stopped
    await new Promise(resolve => setTimeout(resolve, 200))
    expect((await queryDirectory(observer.node, directory.addr, { regions: ['us-east'] })).map(l => l.peerId)).not.toContain(farmer.node.peerId.toString())
  })

  it('waits as long as a BUSY relay asks before announcing again', async () => {
    // One announce, then one a second: a farmer beating every 50 ms is refused with retryAfterMs.
    const strict = await startTestDirectory(60_000, { store: { peerAnnounces: { burst: 1, refillMs: 1_000 } } })
    const [f] = await startDirectoryFarmers(1) as [TestDirectoryFarmer]
    const announcer = new Announcer(
      { libp2p: f.node, privateKey: f.key, stat: async () => ({ capacity: 100, used: 40, free: 60, count: 2 }) },
      { relay: strict.addr, region: 'us-east', tier: 'live', kind: 'full', version: '0.1.0', intervalMs: 50 })
    try {
      await announcer.start()
      await new Promise(resolve => setTimeout(resolve, 1_500))
      await announcer.stop()
      // Refused once at most before each refill: without waiting, about 25 refusals in 1.5 s.
      expect(announcer.ok).toBeGreaterThanOrEqual(2)
      expect(announcer.failed).toBeLessThanOrEqual(3)
    } finally {
      await Promise.all([strict.stop(), f.node.stop()])
    }
  })
})
