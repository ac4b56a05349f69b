// Abuse benchmark: an honest client's put and get of a 4 MiB file, each by a freshly started client, (4 + 2, the test policy) over a real
// grid (a relay and 6 farmer processes on loopback), first alone and then while each attack runs,
// in the same run. Target: at most 2× slower under attack, never refused.
//   idle sockets   50 WebSockets to the relay and to every farmer that never start the handshake
//   trickle PUTs   16 PUTs to one farmer that declare 16 MiB and send one byte every 2 s
//   paused GETs    4 peers × 32 GETs of 4 MiB fragments from one farmer, never read
//   directory      records with the longest addresses the relay accepts, from 40 identities,
//                  each announced every second (the attackers run in this process, so on two
//                  cores their CPU is the honest client's too)
// --soak SECONDS runs every attack at once beside a loop of honest puts and gets for that long
// (`npm run soak`: 600 s), and reports the operations, their failures, and the relay's and the
// farmers' memory over time (RSS; and the relay's JS heap and pending timers, from its /metrics).
// Usage: node bench/abuse.ts [--json] [--rounds 5] [--soak SECONDS]
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createServer, type AddressInfo } from 'node:net'
import { multiaddr } from '@multiformats/multiaddr'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Libp2p, Stream } from '@libp2p/interface'
import WebSocket from 'ws'
import { GRID_REGIONS } from '../src/cli/grid.ts'
import { spawnShardfarm, stopChild, type ShardfarmChild } from '../src/cli/spawn.ts'
import { FarmerClient } from '../src/client/adapters/farmer-client.ts'
import { KvJobStore } from '../src/client/job-store.ts'
import { Download } from '../src/client/ops/download.ts'
import { UploadJob } from '../src/client/ops/upload.ts'
import { openNodeClient, type NodeClient } from '../src/client/session.node.ts'
import { sha256Hex } from '../src/core/hash.ts'
import { parseCapability } from '../src/core/capability.ts'
import { createNodeLibp2p } from '../src/net/libp2p.node.ts'
import { announceToDirectory, queryDirectory, signFarmerRecord } from '../src/net/protocols/directory.ts'
import { FRAGMENT_PROTOCOL, MAX_FRAGMENT_BYTES } from '../src/net/protocols/fragment-constants.ts'
import { encodeFrame } from '../src/net/protocols/frames.ts'
import { MemoryKeyValueStore } from '../src/stores/kv/memory.ts'
import { TEST_POLICY } from '../test/support/test-policy.ts'
import { median, printTable } from './util.ts'

/** The owner key benchmark puts claim with (only its public half travels). */
const BENCH_OWNER = { publicKey: Buffer.alloc(32, 7).toString('base64') }

const FARMERS = 6
const FILE = 4 << 20
const args = parseArgs(process.argv.slice(2))
const log = (s: string): void => { process.stderr.write(s + '\n') }

/** An attack in progress; `stop` ends it and releases what it holds. */
interface Attack { stop: () => Promise<void> }

const root = await mkdtemp(join(tmpdir(), 'shardfarm-abuse-'))
const children: ShardfarmChild[] = []
const nodes: Libp2p[] = []
let client: NodeClient | undefined
try {
  const relayHttp = await freePort()
  const relay = await spawnShardfarm(['relay', '--data', join(root, 'relay'), '--vetting-period', '0', '--shared-subnets', '--http', `127.0.0.1:${relayHttp}`], { name: 'abuse-relay', stderr: 'ignore' })
  children.push(relay)
  const farmers = await Promise.all(Array.from({ length: FARMERS }, async (_, i) => await spawnShardfarm([
    'farmer', '--data', join(root, `farmer-${i}`), '--region', GRID_REGIONS[i % GRID_REGIONS.length]!, '--relay', relay.addr, '--heartbeat', '1000'
  ], { name: `abuse-farmer-${i}`, stderr: 'ignore' })))
  children.push(...farmers)
  client = await openNodeClient(relay.addr, { home: join(root, 'client') })
  await waitListed(client.libp2p, relay.addr, FARMERS)
  log(`grid: relay + ${FARMERS} farmers in ${root}`)
  // The honest client keeps its jobs and scores in the run's folder, not in the person's data folder.
  const honest = honestClient(relay.addr, join(root, 'client'))
  const attacks: Record<string, () => Promise<Attack>> = {
    'idle sockets': async () => await idleSockets([relay.addr, ...farmers.map(f => f.addr)], 50),
    'trickle PUTs': async () => await tricklePuts(farmers[0]!.addr, 16),
    'paused GETs': async () => await pausedGets(farmers[0]!.addr, 4, 32),
    directory: async () => await directoryFlood(relay.addr, 40)
  }
  const memory = (): { relay: number, farmers: number } => ({ relay: rssMiB(relay.pid), farmers: Math.max(...farmers.map(f => rssMiB(f.pid))) })

  if (args.soak !== undefined) {
    const running = await Promise.all(Object.values(attacks).map(async start => await start()))
    const end = Date.now() + args.soak * 1000
    const samples: Array<{ t: number, relay: number, farmers: number } & RelayFigures> = []
    const sampler = setInterval(() => {
      const t = Math.round((Date.now() - end) / 1000 + args.soak!)
      const rss = memory()
      void relayFigures(relayHttp).then(f => { samples.push({ t, ...rss, ...f }) })
    }, 10_000)
    let ok = 0
    let failed = 0
    const errors = new Map<string, number>()
    const failures: Array<{ t: number, error: string, message: string } & RelayFigures> = []
    while (Date.now() < end) {
      const r = await honest.round()
      if (r.error === undefined) { ok++; continue }
      failed++
      errors.set(r.error, (errors.get(r.error) ?? 0) + 1)
      // What the relay holds when an honest round fails: the first question about any failure.
      const failure = { t: Math.round((Date.now() - end) / 1000 + args.soak), error: r.error, message: r.message ?? '', ...await relayFigures(relayHttp) }
      failures.push(failure)
      log(`  ${failure.t} s: ${r.error}: ${failure.message} (relay lists ${failure.relayFarmers ?? '?'} farmers)`)
    }
    clearInterval(sampler)
    await Promise.all(running.map(async a => { await a.stop() }))
    const first: typeof samples[number] = samples[0] ?? { t: 0, ...memory() }
    const last: typeof samples[number] = samples.at(-1) ?? { t: args.soak, ...memory() }
    const peak = { relay: Math.max(...samples.map(s => s.relay)), farmers: Math.max(...samples.map(s => s.farmers)) }
    log(`soak: ${args.soak} s with every attack running: ${ok} honest put+get rounds succeeded, ${failed} failed ${JSON.stringify(Object.fromEntries(errors))}`)
    log(`RSS (MiB) relay ${first.relay} → ${last.relay} (peak ${peak.relay}), largest farmer ${first.farmers} → ${last.farmers} (peak ${peak.farmers})`)
    log(`relay JS heap in use (MiB) ${first.relayHeapMiB ?? '?'} → ${last.relayHeapMiB ?? '?'} (peak ${Math.max(...samples.map(x => x.relayHeapMiB ?? 0))}); timers ${first.relayTimers ?? '?'} → ${last.relayTimers ?? '?'}`)
    log(`relay lists ${first.relayFarmers ?? '?'} → ${last.relayFarmers ?? '?'} farmers (fewest ${Math.min(...samples.map(x => x.relayFarmers ?? Infinity))})`)
    if (args.json) process.stdout.write(JSON.stringify({ soak_s: args.soak, rounds_ok: ok, rounds_failed: failed, errors: Object.fromEntries(errors), failures, rss_mib: { first, last, peak }, samples }) + '\n')
  } else {
    const phases: Array<{ name: string, put: number, get: number, failed: number, relay: number, farmers: number }> = []
    const measure = async (name: string): Promise<void> => {
      const puts: number[] = []
      const gets: number[] = []
      let failed = 0
      for (let i = 0; i < args.rounds; i++) {
        const r = await honest.round()
        if (r.error !== undefined) { failed++; log(`  ${name}: ${r.error}`); continue }
        puts.push(r.putMs)
        gets.push(r.getMs)
      }
      phases.push({ name, put: median(puts), get: median(gets), failed, ...memory() })
      log(`${name}: put ${median(puts).toFixed(0)} ms, get ${median(gets).toFixed(0)} ms, ${failed} failed`)
    }
    await honest.round() // warm: connections, codec worker, JIT
    await measure('no attack')
    for (const [name, start] of Object.entries(attacks)) {
      const attack = await start()
      await new Promise(resolve => setTimeout(resolve, 2000)) // let it take hold
      await measure(name)
      await attack.stop()
    }
    const base = phases[0]!
    const fixed = (x: number, d: number): string => Number.isFinite(x) ? x.toFixed(d) : '-'
    printTable(['phase', 'put ms', '×', 'get ms', '×', 'failed', 'relay MiB', 'farmer MiB'], phases.map(p => [
      p.name, fixed(p.put, 0), fixed(p.put / base.put, 2), fixed(p.get, 0), fixed(p.get / base.get, 2), `${p.failed}/${args.rounds}`, String(p.relay), String(p.farmers)
    ]))
    // A phase whose every round failed has no time: it counts as infinitely slow.
    const worst = Math.max(...phases.slice(1).map(p => p.failed === args.rounds ? Infinity : Math.max(p.put / base.put, p.get / base.get)))
    log(`worst slowdown under attack: ${worst.toFixed(2)}× (target ≤ 2), refused or failed: ${phases.reduce((n, p) => n + p.failed, 0)}`)
    if (args.json) {
      process.stdout.write(JSON.stringify({
        rounds: args.rounds, file_bytes: FILE, worst_slowdown: Number.isFinite(worst) ? round(worst) : null,
        phases: phases.map(p => ({ ...p, put_ms: round(p.put), get_ms: round(p.get), put_x: round(p.put / base.put), get_x: round(p.get / base.get) }))
      }) + '\n')
    }
  }
} finally {
  await client?.close().catch(() => {})
  await Promise.all(nodes.map(async n => { await Promise.resolve(n.stop()).catch(() => {}) }))
  await Promise.all(children.map(async c => await stopChild(c)))
  await rm(root, { recursive: true, force: true })
}

/**
 * An honest client: one round is a put of a fresh 4 MiB file and a get of it, timed, each by a
 * client started for it (as a `shardfarm put` and a `shardfarm get` would be), so it has to make
 * new connections while the attack holds its own.
 */
function honestClient (relay: string, home: string): { round: () => Promise<{ putMs: number, getMs: number, error?: string, message?: string }> } {
  return {
    round: async () => {
      const bytes = randomBytes(FILE)
      const source = { size: bytes.length, read: async (o: number, l: number) => bytes.subarray(o, o + l) }
      let c: NodeClient | undefined
      try {
        c = await openNodeClient(relay, { home })
        const t0 = performance.now()
        const job = await UploadJob.open(new KvJobStore(new MemoryKeyValueStore()), { size: bytes.length, policy: TEST_POLICY, name: 'honest.bin' })
        const up = await job.run(c, source, { signal: AbortSignal.timeout(60_000) })
        await c.close()
        c = await openNodeClient(relay, { home })
        const t1 = performance.now()
        let got = 0
        await new Download(c, parseCapability(up.link), { signal: AbortSignal.timeout(60_000) }).run(chunk => { got += chunk.length })
        if (got !== bytes.length) throw new Error(`got ${got} of ${bytes.length} bytes`)
        return { putMs: t1 - t0, getMs: performance.now() - t1 }
      } catch (err) {
        return { putMs: 0, getMs: 0, error: (err as { code?: string }).code ?? (err as Error).name, message: (err as Error).message }
      } finally {
        await c?.close().catch(() => {})
      }
    }
  }
}

/** `n` WebSockets to each address that never say a word of the libp2p handshake. */
async function idleSockets (addrs: string[], n: number): Promise<Attack> {
  const sockets: WebSocket[] = []
  for (const a of addrs) {
    const m = /\/ip4\/([\d.]+)\/tcp\/(\d+)\/ws/.exec(a)
    if (m === null) continue
    for (let i = 0; i < n; i++) {
      const ws = new WebSocket(`ws://${m[1]}:${m[2]}`)
      ws.on('error', () => {})
      sockets.push(ws)
    }
  }
  return { stop: async () => { for (const ws of sockets) ws.terminate() } }
}

/** `n` PUTs to `farmer` that declare the largest fragment (16 MiB) and then send one byte every 2 s. */
async function tricklePuts (farmer: string, n: number): Promise<Attack> {
  const node = await attacker()
  const streams: Stream[] = []
  for (let i = 0; i < n; i++) {
    const s = await node.dialProtocol(multiaddr(farmer), FRAGMENT_PROTOCOL).catch(() => undefined)
    if (s === undefined) continue
    s.send(encodeFrame({ op: 'PUT', id: await sha256Hex(randomBytes(32)), size: MAX_FRAGMENT_BYTES }))
    streams.push(s)
  }
  const timer = setInterval(() => { for (const s of streams) if (s.status === 'open') s.send(Uint8Array.of(0)) }, 2000)
  return { stop: async () => { clearInterval(timer); for (const s of streams) s.abort(new Error('done')) } }
}

/** `peers` × `each` GETs of 4 MiB fragments from `farmer` whose answers are never read. */
async function pausedGets (farmer: string, peers: number, each: number): Promise<Attack> {
  const seeder = await attacker()
  const fc = new FarmerClient({ libp2p: seeder })
  const ids: string[] = []
  for (let i = 0; i < 4; i++) {
    const bytes = randomBytes(4 << 20)
    const id = await sha256Hex(bytes)
    await fc.put(multiaddr(farmer), id, bytes, { owner: BENCH_OWNER })
    ids.push(id)
  }
  const streams: Stream[] = []
  for (let p = 0; p < peers; p++) {
    const node = await attacker()
    for (let i = 0; i < each; i++) {
      const s = await node.dialProtocol(multiaddr(farmer), FRAGMENT_PROTOCOL).catch(() => undefined)
      if (s === undefined) continue
      s.send(encodeFrame({ op: 'GET', id: ids[i % ids.length]! }))
      await s.close().catch(() => {}) // the request is complete; the answer is never read
      streams.push(s)
    }
  }
  return { stop: async () => { for (const s of streams) s.abort(new Error('done')) } }
}

/** `identities` farmers that never store a byte announce the longest addresses the relay takes, again and again. */
async function directoryFlood (relay: string, identities: number): Promise<Attack> {
  let running = true
  const loops: Array<Promise<void>> = []
  for (let i = 0; i < identities; i++) {
    const privateKey = await generateKeyPair('Ed25519')
    const node = await createNodeLibp2p({ privateKey })
    nodes.push(node)
    const id = node.peerId.toString()
    const host = (label: number): string => Array.from({ length: 3 }, (_, j) => `x${label}${j}`.padEnd(60, 'a')).join('.')
    const addrs = Array.from({ length: 8 }, (_, j) => `/dns4/${host(j)}/tcp/${4000 + j}/wss/p2p/${id}`)
    loops.push((async () => {
      while (running) {
        const record = { peerId: id, addrs, region: 'eu-west', tier: 'live' as const, kind: 'full' as const, capacity: 1e15, free: 1e15, version: '0.1.0', seq: Date.now() }
        await announceToDirectory(node, multiaddr(relay), await signFarmerRecord(privateKey, record)).catch(() => {})
        await new Promise(resolve => setTimeout(resolve, 1000))
      }
    })())
  }
  return { stop: async () => { running = false; await Promise.all(loops) } }
}

/** A libp2p node of the attacker's. */
async function attacker (): Promise<Libp2p> {
  const node = await createNodeLibp2p({ identify: false })
  nodes.push(node)
  return node
}

async function waitListed (libp2p: Libp2p, relayAddr: string, n: number): Promise<void> {
  const until = Date.now() + 60_000
  while (Date.now() < until) {
    if ((await queryDirectory(libp2p, multiaddr(relayAddr)).catch(() => [])).length >= n) return
    await new Promise(resolve => setTimeout(resolve, 500))
  }
  throw new Error(`the relay's directory never listed ${n} farmers`)
}

/** A port free now on 127.0.0.1 (for the relay's metrics endpoint). */
async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  await new Promise(resolve => server.close(resolve))
  return port
}

/** The relay's figures the soak follows, from its /metrics. */
interface RelayFigures { relayHeapMiB?: number, relayTimers?: number, relayFarmers?: number, relayConnections?: number }

/** The relay's JS heap in use (MiB), pending timers, farmers listed and connections, from its /metrics. */
async function relayFigures (port: number): Promise<RelayFigures> {
  const text = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(5_000) }).then(async r => await r.text()).catch(() => '')
  const heap = /^nodejs_heap_used_bytes (\d+)$/m.exec(text)?.[1]
  const timers = /^nodejs_active_resources\{type="Timeout"\} (\d+)$/m.exec(text)?.[1]
  const listed = /^shardfarm_relay_farmers (\d+)$/m.exec(text)?.[1]
  const connections = /^shardfarm_relay_connections (\d+)$/m.exec(text)?.[1]
  return {
    ...(heap !== undefined ? { relayHeapMiB: Math.round(Number(heap) / 2 ** 20) } : {}),
    ...(timers !== undefined ? { relayTimers: Number(timers) } : {}),
    ...(listed !== undefined ? { relayFarmers: Number(listed) } : {}),
    ...(connections !== undefined ? { relayConnections: Number(connections) } : {})
  }
}

function rssMiB (pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readStatus(pid))
    return m === null ? 0 : Math.round(Number(m[1]) / 1024)
  } catch { return 0 }
}

function readStatus (pid: number): string {
  return readFileSync(`/proc/${pid}/status`, 'utf8')
}

function round (x: number, digits = 2): number { const f = 10 ** digits; return Math.round(x * f) / f }

function parseArgs (argv: string[]): { json: boolean, rounds: number, soak?: number } {
  const out: { json: boolean, rounds: number, soak?: number } = { json: false, rounds: 5 }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === '--json') out.json = true
    else if (a === '--rounds') out.rounds = Number(argv[++i])
    else if (a === '--soak') out.soak = Number(argv[++i])
    else throw new Error(`unknown argument ${a}; usage: node bench/abuse.ts [--json] [--rounds 5] [--soak SECONDS]`)
  }
  return out
}
