// One hostile host floods the relay's directory with 500 records of fresh identities, each as large
// as a valid record gets and claiming a petabyte free, beside six honest farmers the relay has known
// for two hours. Before, ~400 such records made every put and get fail (answers past the client's
// frame limit), and placement, ranking by claimed free space, would have sent every fragment to
// addresses nobody listens on. Now answers are pages, the records are new to the relay (a vetting
// period of an hour), and new farmers together get at most one fragment of a segment: `put` and
// `get` succeed, with the whole flood listed.
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { RelayDirectory } from '../../src/client/adapters/libp2p-ports.ts'
import { announceMany, exoticAddrs, record } from '../support/directory-flood.ts'
import { CliGrid, LIVE_SEGMENT, sha256File, writeRandomFile } from './cli-grid.ts'

const HOSTILE = 500
const g = new CliGrid()
beforeAll(async () => {
  // Records live 10 minutes without a heartbeat: the flood is announced once and stays for the test.
  await g.start(6, { vettingSeconds: 3600, knownForSeconds: 7200, newFarmersPerMinute: 100_000, ttlMs: 600_000 })
}, 120_000)
afterAll(async () => { await g.destroy() })

describe('a directory flooded by one host', () => {
  it('500 maximal records of fresh identities: put and get still succeed', async () => {
    const relayId = g.relay.addr.split('/p2p/')[1]!
    const escapes = '"\\'.repeat(32) // printable, twice as long in JSON
    let n = 0
    const results = await announceMany(g.relay.addr, HOSTILE, id => record(id, { addrs: exoticAddrs(relayId, n++), version: escapes }))
    expect(results.filter(r => r.status === 'rejected')).toHaveLength(0)
    const listed = await new RelayDirectory(g.node, g.relay.addr).list()
    expect(listed).toHaveLength(HOSTILE + 6)

    const src = join(g.work, 'flooded.bin')
    const digest = await writeRandomFile(src, 2 * LIVE_SEGMENT + 12_345)
    const put = await g.cli(['put', src, '--json'])
    expect(put.code, put.stderr).toBe(0)
    const { link } = JSON.parse(put.out) as { link: string }
    const out = join(g.work, 'flooded.out')
    const got = await g.cli(['get', link, '-o', out])
    expect(got.code, got.stderr).toBe(0)
    expect(await sha256File(out)).toBe(digest)
  })
})
