// One hostile host floods the relay's directory with records of fresh identities, each as large
// as a valid record gets and claiming a petabyte free, beside six honest farmers the relay has known
// for two hours. Before, ~400 such records made every put and get fail (answers past the client's
// frame limit), and placement, ranking by claimed free space, would have sent every fragment to
// addresses nobody listens on. Now the relay dials every new full farmer back before listing it, and
// nobody answers at the flood's addresses: every record is refused (UNREACHABLE), nothing of the
// flood is listed, and `put` and `get` succeed. (Answers paged under 1 MiB with such a flood listed
// are tested where the relay skips the dial-back, test/grid/directory-abuse.test.ts; new farmers
// that do answer held to one fragment of a segment, in test/e2e-cli/sybil.test.ts.)
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { RelayDirectory } from '../../src/client/adapters/libp2p-ports.ts'
import { announceMany, exoticAddrs, record } from '../support/directory-flood.ts'
import { CliGrid, LIVE_SEGMENT, sha256File, writeRandomFile } from './cli-grid.ts'

// Each refusal costs the relay a dial-back (a DNS lookup of a made-up name): 100 keep this test short.
const HOSTILE = 100
const g = new CliGrid()
beforeAll(async () => {
  // Records live 10 minutes without a heartbeat: the flood is announced once and stays for the test.
  await g.start(6, { vettingSeconds: 3600, knownForSeconds: 7200, newFarmersPerMinute: 100_000, ttlMs: 600_000 })
}, 120_000)
afterAll(async () => { await g.destroy() })

describe('a directory flooded by one host', () => {
  it('100 maximal records of fresh identities are refused, none listed, and put and get succeed', async () => {
    const relayId = g.relay.addr.split('/p2p/')[1]!
    const escapes = '"\\'.repeat(32) // printable, twice as long in JSON
    let n = 0
    const results = await announceMany(g.relay.addr, HOSTILE, id => record(id, { addrs: exoticAddrs(relayId, n++), version: escapes }))
    // Every announce is refused as UNREACHABLE, and the relay lives on (a failed DNS lookup during a
    // dial-back once crashed it).
    const codes = results.map(r => r.status === 'rejected' ? (r.reason as { code?: string }).code : 'listed')
    expect(codes).toEqual(Array.from({ length: HOSTILE }, () => 'UNREACHABLE'))
    const listed = await new RelayDirectory(g.node, g.relay.addr).list()
    expect(listed.map(f => f.peerId).sort()).toEqual(g.farmers.map(f => f.peerId).sort())

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
