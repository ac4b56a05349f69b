// A relay and three full farmers as real processes: the directory lists them with their regions,
// forgets one at once when it stops cleanly and after the TTL when it is SIGKILLed, and a restarted
// farmer comes back under the same peer id.
import { readFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Libp2p } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { createNodeLibp2p } from '../../src/net/libp2p.node.ts'
import { queryDirectory } from '../../src/net/protocols/directory.ts'
import { Grid, httpText, httpUrlOf, peerOf, waitForDirectory } from './helpers.ts'
import type { TestChild } from './helpers.ts'

/** The version a farmer reports: the package's. */
const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version

const TTL_MS = 1_500
const grid = new Grid()
let client: Libp2p
let relay: TestChild
const farmers: TestChild[] = []

beforeAll(async () => {
  await grid.init()
  relay = await grid.relay(TTL_MS)
  farmers.push(...await Promise.all(['eu-west', 'eu-central', 'us-east'].map(async (region, i) =>
    await grid.farmer(`farmer-${i}`, relay.addr, ['--region', region, '--quota', '1MiB', '--http', '127.0.0.1:0', ...(i === 2 ? ['--tier', 'archive'] : [])]))))
  client = await createNodeLibp2p()
})

afterAll(async () => {
  await client?.stop()
  await grid.destroy()
})

describe('relay directory with farmer processes', () => {
  it('prints full multiaddrs and lists every farmer with its region, tier and free space', async () => {
    expect(relay.addr).toMatch(/^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/ws\/p2p\/12D3KooW/)
    const ids = farmers.map(f => peerOf(f.addr))
    const listings = await waitForDirectory(client, relay.addr, l => l.length === 3)
    expect(listings.map(l => l.peerId).sort()).toEqual([...ids].sort())
    for (const l of listings) {
      expect(l).toMatchObject({ kind: 'full', capacity: 1024 ** 2, free: 1024 ** 2, version: VERSION })
      expect(l.addrs).toContain(farmers.find(f => peerOf(f.addr) === l.peerId)!.addr)
    }
    const eu = await queryDirectory(client, multiaddr(relay.addr), { regions: ['eu-west', 'eu-central'] })
    expect(eu.map(l => l.peerId).sort()).toEqual([ids[0], ids[1]].sort())
    const archive = await queryDirectory(client, multiaddr(relay.addr), { tier: 'archive' })
    expect(archive.map(l => l.region)).toEqual(['us-east'])
  })

  it('serves /health and /metrics over HTTP', async () => {
    const url = await httpUrlOf(farmers[0]!)
    const health = await httpText(`${url}/health`)
    expect(health.status).toBe(200)
    expect(JSON.parse(health.body)).toMatchObject({ status: 'ok', peerId: peerOf(farmers[0]!.addr), region: 'eu-west' })
    const metrics = await httpText(`${url}/metrics`)
    expect(metrics.body).toMatch(/^shardfarm_farmer_bytes_capacity 1048576$/m)
    expect(metrics.body).toMatch(/^shardfarm_directory_announces_total\{result="ok"\} [1-9]/m)
    expect((await httpText(`${url}/nope`)).status).toBe(404)
  })

  it('forgets a cleanly stopped farmer at once, and a SIGKILLed one after the TTL', async () => {
    const [f0, f1] = farmers as [TestChild, TestChild]
    expect(await grid.stop(f0)).toBe(0)
    let ids = (await queryDirectory(client, multiaddr(relay.addr))).map(l => l.peerId)
    expect(ids).not.toContain(peerOf(f0.addr))
    expect(ids).toContain(peerOf(f1.addr))

    f1.child.kill('SIGKILL')
    await f1.exited
    ids = (await queryDirectory(client, multiaddr(relay.addr))).map(l => l.peerId)
    expect(ids).toContain(peerOf(f1.addr)) // still within its TTL
    const started = Date.now()
    const later = await waitForDirectory(client, relay.addr, l => !l.some(x => x.peerId === peerOf(f1.addr)), TTL_MS * 4)
    expect(later.map(l => l.peerId)).not.toContain(peerOf(f1.addr))
    expect(Date.now() - started).toBeLessThan(TTL_MS + 1_000)
  })

  it('a restarted farmer keeps its peer id and is listed again', async () => {
    const again = await grid.farmer('farmer-0', relay.addr, ['--region', 'eu-west'])
    expect(peerOf(again.addr)).toBe(peerOf(farmers[0]!.addr))
    const listings = await waitForDirectory(client, relay.addr, l => l.some(x => x.peerId === peerOf(again.addr)))
    expect(listings.find(x => x.peerId === peerOf(again.addr))?.region).toBe('eu-west')
  })
})
