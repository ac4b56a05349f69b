// Network benchmark: Node → full farmers on loopback, 4 MiB fragments, MB/s (10^6 bytes/s) medians.
//   raw ws       one plain WebSocket (no libp2p) to a sink process: the transport's ceiling
//   one farmer   PUTs to one farmer process over one libp2p connection, 4 in flight
//   six farmers  the same to six farmer processes at once
// Farmers are real `shardfarm farmer` processes whose stores fsync every fragment to a temp dir
// (set SHARDFARM_BENCH_DIR to put them elsewhere, e.g. /dev/shm, to take the disk out).
// "client CPU" is this process's CPU seconds per wall second (1.0 = one core busy); "server CPU" the
// same for the receiving side (the sink process for raw, the farmer processes for the others), and
// "total" both together, out of the 2.0 that two cores give: near 2.0, adding farmers cannot help.
// Usage: node bench/net.ts [--json] [--runs N]
import { spawn } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { multiaddr } from '@multiformats/multiaddr'
import type { Multiaddr } from '@multiformats/multiaddr'
import { WebSocket } from 'ws'
import { FarmerClient } from '../src/client/adapters/farmer-client.ts'
import { spawnShardfarm, stopChild } from '../src/cli/spawn.ts'
import type { ShardfarmChild } from '../src/cli/spawn.ts'
import { createNodeLibp2p } from '../src/net/libp2p.node.ts'
import { cpuMeter, median, parseBenchArgs, printTable } from './util.ts'

/** The owner key benchmark puts claim with (only its public half travels). */
const BENCH_OWNER = { publicKey: Buffer.alloc(32, 7).toString('base64') }

const FRAGMENT = 4 * 1024 * 1024
const PER_FARMER = 16 // 64 MiB per farmer per run
// The raw socket moves 64 MiB in 0.1–0.3 s, too short to time on a shared machine (single runs
// ranged 197–731 MB/s): it sends four times as much per run.
const RAW_FRAGMENTS = 4 * PER_FARMER
const IN_FLIGHT = 4
const FARMERS = 6
const args = parseBenchArgs(process.argv.slice(2))
const runs = args.runs ?? 3

let counter = 0
const base = new Uint8Array(randomBytes(FRAGMENT))
/** Distinct fragments (a counter in the first bytes) without generating 4 MiB of randomness each. */
function makeFragments (n: number): Array<{ id: string, bytes: Uint8Array }> {
  return Array.from({ length: n }, () => {
    const bytes = base.slice()
    new DataView(bytes.buffer).setFloat64(0, ++counter)
    return { id: createHash('sha256').update(bytes).digest('hex'), bytes }
  })
}

async function putAll (client: FarmerClient, farmer: Multiaddr, frags: Array<{ id: string, bytes: Uint8Array }>): Promise<void> {
  let next = 0
  await Promise.all(Array.from({ length: IN_FLIGHT }, async () => {
    while (next < frags.length) {
      const f = frags[next++]!
      await client.put(farmer, f.id, f.bytes, { owner: BENCH_OWNER })
    }
  }))
}

/** Sends `n` fragments through one WebSocket and waits until the sink confirms every byte. */
async function rawWs (url: string, n: number, cpu: number[] = []): Promise<number> {
  const ws = new WebSocket(url)
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject) })
  const payloads = makeFragments(n).map(f => f.bytes)
  const start = performance.now()
  const c0 = process.cpuUsage()
  for (const p of payloads) {
    await new Promise<void>((resolve, reject) => { ws.send(p, { binary: true }, err => { if (err) reject(err); else resolve() }) })
  }
  const got = await new Promise<number>(resolve => { ws.once('message', d => { resolve(Number(String(d))) }); ws.send('end') })
  const seconds = (performance.now() - start) / 1000
  const c = process.cpuUsage(c0)
  cpu.push((c.user + c.system) / 1e6 / seconds)
  ws.close()
  if (got !== n * FRAGMENT) throw new Error(`sink got ${got} bytes, expected ${n * FRAGMENT}`)
  return n * FRAGMENT / 1e6 / seconds
}

async function startSink (): Promise<{ url: string, pid: number, stop: () => void }> {
  const child = spawn(process.execPath, [fileURLToPath(new URL('./ws-sink.ts', import.meta.url))], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] })
  child.channel?.unref()
  const url = await new Promise<string>(resolve => createInterface({ input: child.stdout! }).once('line', resolve))
  return { url, pid: child.pid!, stop: () => child.kill('SIGTERM') }
}

const root = await mkdtemp(join(process.env.SHARDFARM_BENCH_DIR ?? tmpdir(), 'shardfarm-bench-'))
const farmers: ShardfarmChild[] = []
const sink = await startSink()
const libp2p = await createNodeLibp2p()
try {
  farmers.push(...await Promise.all(Array.from({ length: FARMERS }, async (_, i) =>
    await spawnShardfarm(['farmer', '--data', join(root, `f${i}`), '--quota', '8GiB'], { name: `bench-farmer-${i}`, stderr: 'ignore' }))))
  const addrs = farmers.map(f => multiaddr(f.addr))
  const client = new FarmerClient({ libp2p }, { timeoutMs: 120_000 })
  // Warm-up: connections, Noise handshakes and JIT, outside the timings.
  await rawWs(sink.url, 4)
  await Promise.all(addrs.map(async a => { await putAll(client, a, makeFragments(4)) }))

  const raw: number[] = []
  const one: number[] = []
  const six: number[] = []
  // This process's CPU per wall second in each phase: near 1.0 means the client's one JS thread
  // (Noise, yamux framing, copies) is the bound, not the farmers or the loopback.
  const cpu = { raw: [] as number[], one: [] as number[], six: [] as number[] }
  // The receiving side's CPU per wall second in each phase (sink, one farmer, six farmers).
  const server = { raw: [] as number[], one: [] as number[], six: [] as number[] }
  const farmerPids = farmers.map(f => f.pid)
  const timed = async (into: number[], serverInto: number[], pids: number[], f: () => Promise<void>): Promise<number> => {
    const c0 = process.cpuUsage()
    const serverCpu = cpuMeter(pids)
    const t0 = performance.now()
    await f()
    const ms = performance.now() - t0
    const c = process.cpuUsage(c0)
    into.push((c.user + c.system) / 1000 / ms)
    serverInto.push(serverCpu() * 1000 / ms)
    return ms / 1000
  }
  for (let r = 0; r < runs; r++) {
    const sinkCpu = cpuMeter([sink.pid])
    const rawT0 = performance.now()
    raw.push(await rawWs(sink.url, RAW_FRAGMENTS, cpu.raw))
    server.raw.push(sinkCpu() * 1000 / (performance.now() - rawT0))
    const frags = makeFragments(PER_FARMER)
    one.push(PER_FARMER * FRAGMENT / 1e6 / await timed(cpu.one, server.one, farmerPids, async () => { await putAll(client, addrs[0]!, frags) }))
    const batches = addrs.map(() => makeFragments(PER_FARMER))
    six.push(FARMERS * PER_FARMER * FRAGMENT / 1e6 / await timed(cpu.six, server.six, farmerPids, async () => {
      await Promise.all(addrs.map(async (a, i) => { await putAll(client, a, batches[i]!) }))
    }))
  }
  const m = (xs: number[]): number => round2(median(xs))
  const result = {
    raw_ws_mbps: round(median(raw)),
    one_farmer_mbps: round(median(one)),
    six_farmers_mbps: round(median(six)),
    one_vs_raw: round2(median(one) / median(raw)),
    six_vs_one: round2(median(six) / median(one)),
    client_cpu: { raw_ws: m(cpu.raw), one_farmer: m(cpu.one), six_farmers: m(cpu.six) },
    server_cpu: { raw_ws: m(server.raw), one_farmer: m(server.one), six_farmers: m(server.six) },
    fragment_bytes: FRAGMENT,
    bytes_per_farmer_per_run: PER_FARMER * FRAGMENT,
    runs
  }
  const cpuCells = (c: number[], s: number[]): string[] => [m(c).toFixed(2), m(s).toFixed(2), (m(c) + m(s)).toFixed(2)]
  printTable(['path (4 MiB fragments)', 'MB/s median', 'min', 'max', 'client CPU', 'server CPU', 'total'], [
    ['raw WebSocket, 1 socket', ...fig(raw), ...cpuCells(cpu.raw, server.raw)],
    ['1 farmer, 1 connection', ...fig(one), ...cpuCells(cpu.one, server.one)],
    [`${FARMERS} farmers in parallel`, ...fig(six), ...cpuCells(cpu.six, server.six)]
  ])
  console.log(`1 farmer / raw ws = ${result.one_vs_raw}   ${FARMERS} farmers / 1 farmer = ${result.six_vs_one}`)
  if (args.json) console.log(JSON.stringify(result))
} finally {
  await libp2p.stop()
  await Promise.all(farmers.map(async f => await stopChild(f)))
  sink.stop()
  await rm(root, { recursive: true, force: true })
}

function round (x: number): number { return Math.round(x * 10) / 10 }
function round2 (x: number): number { return Math.round(x * 100) / 100 }
function fig (xs: number[]): string[] { return [median(xs), Math.min(...xs), Math.max(...xs)].map(x => x.toFixed(1)) }
