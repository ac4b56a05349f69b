// Federated directory benchmark: relays run in this process (relay/main.ts) on loopback, joined
// over gossipsub; farmer records are signed here with fresh Ed25519 keys and handed to the first
// relay as an accepted announce would be (admission signed, then published), so the figures are
// the federation's own, not those of thousands of farmer nodes. All relays share this process's
// one thread: a ceiling on the rate they sustain together that separate relay processes do not have.
//   spread      ms from publish on relay 0 to acceptance on the last other relay (p50, p99), with
//               3 relays at 10 and 100 records/s (and 5 relays at 1000/s with --full); baseline:
//               the same relays' ping round trip.
//   sync        ms for a new relay with no state to hold all 10 000 records of its peer, over
//               /shardfarm/directory-sync/1.0.0, every record checked as gossip is.
//   query       a client's directory query (first page, 100 listings; and a filtered one) over
//               10 000 records: p50, p99 ms.
//   memory      heap growth of one relay holding 10 000 records (after GC), per 10 000.
//   failover    ms to a client's first directory answer from two federated relays (RelaySetDirectory,
//               a fresh client each time) when the first one is: alive (baseline), stopped (the dial
//               is refused), a black hole (accepts TCP, never answers: the hedge decides); and the
//               next answer of a client that was using the first relay when it stopped.
// Usage: node bench/directory.ts [--json] [--full] [--records N]
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { PrivateKey } from '@libp2p/interface'
import type { GossipSub } from '@libp2p/gossipsub'
import { multiaddr } from '@multiformats/multiaddr'
import type { Logger } from '../src/core/logger.ts'
import { createNodeLibp2p } from '../src/net/libp2p.node.ts'
import { queryDirectoryPage, signFarmerRecord } from '../src/net/protocols/directory.ts'
import type { FarmerRecord } from '../src/net/protocols/directory.ts'
import { startRelay } from '../relay/main.ts'
import type { Relay } from '../relay/main.ts'
import { createServer, type AddressInfo, type Socket } from 'node:net'
import { RelaySetDirectory } from '../src/client/adapters/relay-set.ts'
import { printTable } from './util.ts'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void
const quiet: Logger = { debug () {}, info () {}, warn () {}, error () {}, child: () => quiet }
const REGIONS = ['eu-west', 'eu-central', 'us-east']

const argv = process.argv.slice(2)
const json = argv.includes('--json')
const full = argv.includes('--full')
const ri = argv.indexOf('--records')
const RECORDS = ri >= 0 ? Number(argv[ri + 1]) : 10_000
if (!Number.isSafeInteger(RECORDS) || RECORDS < 100) throw new Error('--records needs an integer ≥ 100')
for (const [i, a] of argv.entries()) {
  if (!['--json', '--full', '--records'].includes(a) && argv[i - 1] !== '--records') throw new Error(`Unknown argument ${a}; use --json, --full, --records N`)
}

const root = await mkdtemp(join(tmpdir(), 'shardfarm-bench-directory-'))
const running: Relay[] = []
let n = 0
async function relay (peers: string[]): Promise<Relay> {
  const r = await startRelay({
    dataDir: join(root, `r${n++}`), log: quiet, vettingPeriodMs: 0, sharedSubnets: true, peers,
    directory: { ttlMs: 600_000, maxEntries: Math.max(RECORDS * 2, 10_000) }
  })
  running.push(r)
  return r
}
async function federation (size: number): Promise<Relay[]> {
  const rs: Relay[] = []
  for (let i = 0; i < size; i++) rs.push(await relay(rs.map(r => r.addr)))
  await sleep(2_000) // meshes form at the gossipsub heartbeat (1 s)
  return rs
}
const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }
const pct = (xs: number[], p: number): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? NaN }

interface Farmer { key: PrivateKey, peerId: string }
async function farmers (count: number): Promise<Farmer[]> {
  return await Promise.all(Array.from({ length: count }, async () => {
    const key = await generateKeyPair('Ed25519')
    return { key, peerId: peerIdFromPrivateKey(key).toString() }
  }))
}
function recordOf (f: Farmer, i: number): FarmerRecord {
  return {
    peerId: f.peerId, addrs: [`/ip4/127.0.0.1/tcp/${10_000 + (i % 50_000)}/ws/p2p/${f.peerId}`], region: REGIONS[i % 3]!,
    tier: i % 4 === 0 ? 'archive' : 'live', kind: 'full', capacity: 2 ** 40, free: (i % 100) * 2 ** 34, version: '0.2.0', seq: Date.now()
  }
}
/** What the directory service does with an accepted announce: admit, list, publish. */
async function accept (r: Relay, f: Farmer, i: number): Promise<void> {
  const record = recordOf(f, i)
  const signed = await signFarmerRecord(f.key, record)
  const admission = await r.admissions.prepare(f.peerId, '127.0.0.0/24')
  r.directory.upsert(record, signed, undefined, admission)
  r.admissions.commit(f.peerId, admission)
  r.federation.accepted(record, signed, admission)
}

/** Records/s for `seconds`, published on relay 0; the time each took to be accepted on every other relay. */
async function spread (rs: Relay[], rate: number, seconds: number): Promise<{ p50: number, p99: number, n: number, lost: number }> {
  const count = rate * seconds
  const fs = await farmers(count)
  const sent = new Map<string, number>()
  const seen = new Map<string, number>()
  const took: number[] = []
  const listeners = rs.slice(1).map(r => {
    const ps = (r.libp2p.services as { pubsub: GossipSub }).pubsub
    const on = (e: CustomEvent<{ data: Uint8Array }>): void => {
      const at = performance.now()
      const m = JSON.parse(new TextDecoder().decode(e.detail.data)) as { t: string, signed?: { record: string } }
      if (m.t !== 'farmer' || m.signed === undefined) return
      const id = (JSON.parse(m.signed.record) as { peerId: string }).peerId
      const k = (seen.get(id) ?? 0) + 1
      seen.set(id, k)
      if (k === rs.length - 1 && sent.has(id)) took.push(at - sent.get(id)!)
    }
    ps.addEventListener('message', on as never)
    return () => { ps.removeEventListener('message', on as never) }
  })
  const t0 = performance.now()
  for (let i = 0; i < count; i++) {
    const due = t0 + (i * 1000) / rate
    const wait = due - performance.now()
    if (wait > 0) await sleep(wait)
    sent.set(fs[i]!.peerId, performance.now())
    await accept(rs[0]!, fs[i]!, i)
  }
  await sleep(2_000)
  for (const off of listeners) off()
  return { p50: pct(took, 0.5), p99: pct(took, 0.99), n: took.length, lost: count - took.length }
}

async function pingMs (a: Relay, b: Relay): Promise<number> {
  const xs: number[] = []
  for (let i = 0; i < 20; i++) xs.push(await (a.libp2p.services as { ping: { ping: (p: unknown) => Promise<number> } }).ping.ping(multiaddr(b.addr)))
  return pct(xs, 0.5)
}

const out: Record<string, unknown> = { records: RECORDS }
try {
  // Spread.
  const spreadRows: string[][] = []
  const scenarios: Array<[number, number]> = [[3, 10], [3, 100], ...(full ? [[5, 1000]] as Array<[number, number]> : [])]
  for (const [size, rate] of scenarios) {
    const rs = await federation(size)
    const ping = await pingMs(rs[0]!, rs.at(-1)!)
    const s = await spread(rs, rate, Math.max(3, Math.ceil(300 / rate)))
    out[`spread_${size}relays_${rate}ps`] = { ...s, pingMs: ping }
    spreadRows.push([`${size} relays, ${rate}/s`, s.p50.toFixed(1), s.p99.toFixed(1), String(s.n), String(s.lost), ping.toFixed(2)])
    await Promise.all(rs.map(async r => { await r.stop() }))
  }
  if (!json) printTable(['spread', 'p50 ms', 'p99 ms', 'records', 'lost', 'ping ms (baseline)'], spreadRows)

  // Failover.
  {
    const [a, b] = await federation(2)
    const fs = await farmers(50)
    // Both relays list the same farmers before the client comes. Each is given them directly: this
    // part times the client, not gossip. Waiting, without a bound, for b to hear them all over
    // gossip was the one wait here that could last forever (gossipsub keeps no history: a record
    // published before b's mesh formed never reaches it), and the likely place a --full run stalled.
    for (const [i, f] of fs.entries()) { await accept(a!, f, i); await accept(b!, f, i) }
    const client = await createNodeLibp2p()
    const held = new Set<Socket>()
    const hole = createServer(socket => { held.add(socket) }) // takes the connection, never says a word
    await new Promise<void>(resolve => hole.listen(0, '127.0.0.1', resolve))
    const holeAddr = `/ip4/127.0.0.1/tcp/${(hole.address() as AddressInfo).port}/ws/p2p/${a!.libp2p.peerId.toString()}`
    const firstAnswer = async (first: string): Promise<{ p50: number, p99: number }> => {
      const xs: number[] = []
      for (let i = 0; i < 15; i++) {
        const set = new RelaySetDirectory(client, [first, b!.addr])
        const t = performance.now()
        const got = await set.list()
        xs.push(performance.now() - t)
        if (got.length !== fs.length) throw new Error(`failover answer listed ${got.length} of ${fs.length}`)
        await Promise.all(client.getConnections().map(async c => { await c.close() })) // every trial dials afresh
      }
      return { p50: pct(xs, 0.5), p99: pct(xs, 0.99) }
    }
    const alive = await firstAnswer(a!.addr)
    const blackHole = await firstAnswer(holeAddr)
    const using = new RelaySetDirectory(client, [a!.addr, b!.addr])
    await using.list()
    await a!.stop()
    const t = performance.now()
    await using.list()
    const afterDeath = performance.now() - t
    const stopped = await firstAnswer(a!.addr)
    out.failover = { alive, stopped, blackHole, nextAnswerAfterDeathMs: afterDeath }
    for (const socket of held) socket.destroy() // else close() waits for them, and the bench never exits
    hole.close()
    await client.stop()
    await b!.stop()
    if (!json) {
      printTable(['first directory answer, 2 relays', 'p50 ms', 'p99 ms'], [
        ['first relay alive (baseline)', alive.p50.toFixed(1), alive.p99.toFixed(1)],
        ['first relay stopped', stopped.p50.toFixed(1), stopped.p99.toFixed(1)],
        ['first relay a black hole', blackHole.p50.toFixed(1), blackHole.p99.toFixed(1)],
        ['next answer of a client using the relay that stopped', afterDeath.toFixed(1), '']
      ])
    }
  }

  // Memory, sync and query at RECORDS.
  const [r0] = await federation(1)
  const fs = await farmers(RECORDS)
  gc()
  const before = process.memoryUsage().heapUsed
  for (let i = 0; i < RECORDS; i++) await accept(r0!, fs[i]!, i)
  gc()
  const perTen = (process.memoryUsage().heapUsed - before) / RECORDS * 10_000
  out.memory_per_10k_MiB = perTen / 2 ** 20

  const t0 = performance.now()
  const fresh = await relay([r0!.addr])
  while (fresh.directory.size < RECORDS && performance.now() - t0 < 120_000) await sleep(20)
  out.sync_ms = performance.now() - t0
  out.sync_complete = fresh.directory.size === RECORDS

  const client = await createNodeLibp2p()
  const q = async (filter: object): Promise<{ p50: number, p99: number }> => {
    const xs: number[] = []
    for (let i = 0; i < 200; i++) {
      const s = performance.now()
      await queryDirectoryPage(client, multiaddr(r0!.addr), filter)
      xs.push(performance.now() - s)
    }
    return { p50: pct(xs, 0.5), p99: pct(xs, 0.99) }
  }
  await q({ limit: 10 }) // dial and warm up
  out.query_first_page = await q({ limit: 100 })
  out.query_filtered = await q({ limit: 100, regions: ['eu-west'], tier: 'live', minFree: 2 ** 39 })
  await client.stop()
  if (!json) {
    printTable(['at ' + RECORDS + ' records', 'value'], [
      ['relay heap per 10k records', `${(perTen / 2 ** 20).toFixed(1)} MiB`],
      ['sync of a new relay', `${(out.sync_ms as number).toFixed(0)} ms${out.sync_complete === true ? '' : ' (incomplete)'}`],
      ['query, first page of 100: p50 / p99', `${(out.query_first_page as { p50: number }).p50.toFixed(1)} / ${(out.query_first_page as { p99: number }).p99.toFixed(1)} ms`],
      ['query, filtered: p50 / p99', `${(out.query_filtered as { p50: number }).p50.toFixed(1)} / ${(out.query_filtered as { p99: number }).p99.toFixed(1)} ms`]
    ])
  }
} finally {
  await Promise.all(running.map(async r => { await r.stop() }))
  await rm(root, { recursive: true, force: true })
}
if (json) console.log(JSON.stringify(out))
