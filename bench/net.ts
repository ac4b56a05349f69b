// Network benchmark: Node → full farmers on loopback, 4 MiB fragments, MB/s (10^6 bytes/s) medians.
//   raw ws       one plain WebSocket (no libp2p) to a sink process: the transport's ceiling
//   one farmer   PUTs to one farmer process over one libp2p connection, 4 in flight
//   six farmers  the same to six farmer processes at once
// Farmers are real `shardfarm farmer` processes whose stores fsync every fragment to a temp dir
// (set SHARDFARM_BENCH_DIR to put them elsewhere, e.g. /dev/shm, to take the disk out).
// "client CPU" is this process's CPU seconds per wall second (1.0 = one core busy).
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
import { FarmerClient } from '../src/client/farmer-client.ts'
import { spawnShardfarm, stopChild } from '../src/cli/spawn.ts'
import type { ShardfarmChild } from '../src/cli/spawn.ts'
import { createNodeLibp2p } from '../src/net/libp2p.node.ts'
import { median, parseBenchArgs, printTable } from './util.ts'

const FRAGMENT = 4 * 1024 * 1024
const PER_FARMER = 16 // 64 MiB per farmer per run
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
      await client.put(farmer, f.id, f.bytes)
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

async function startSink (): Promise<{ url: string, stop: () => void }> {
  const child = spawn(process.execPath, [fileURLToPath(new URL('./ws-sink.ts', import.meta.url))], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] })
  child.channel?.unref()
  const url = await new Promise<string>(resolve => createInterface({ input: child.stdout! }).once('line', resolve))
  return { url, stop: () => child.kill('SIGTERM') }
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
  const timed = async (into: number[], f: () => Promise<void>): Promise<number> => {
    const c0 = process.cpuUsage()
    const t0 = performance.now()
    await f()
    const ms = performance.now() - t0
    const c = process.cpuUsage(c0)
    into.push((c.user + c.system) / 1000 / ms)
    return ms / 1000
  }
  for (let r = 0; r < runs; r++) {
    raw.push(await rawWs(sink.url, PER_FARMER, cpu.raw))
    const frags = makeFragments(PER_FARMER)
    one.push(PER_FARMER * FRAGMENT / 1e6 / await timed(cpu.one, async () => { await putAll(client, addrs[0]!, frags) }))
    const batches = addrs.map(() => makeFragments(PER_FARMER))
    six.push(FARMERS * PER_FARMER * FRAGMENT / 1e6 / await timed(cpu.six, async () => {
      await Promise.all(addrs.map(async (a, i) => { await putAll(client, a, batches[i]!) }))
    }))
  }
  const result = {
    raw_ws_mbps: round(median(raw)),
    one_farmer_mbps: round(median(one)),
    six_farmers_mbps: round(median(six)),
    one_vs_raw: round(median(one) / median(raw)),
    six_vs_one: round(median(six) / median(one)),
    client_cpu: { raw_ws: round(median(cpu.raw)), one_farmer: round(median(cpu.one)), six_farmers: round(median(cpu.six)) },
    fragment_bytes: FRAGMENT,
    bytes_per_farmer_per_run: PER_FARMER * FRAGMENT,
    runs
  }
  printTable(['path (4 MiB fragments)', 'MB/s median', 'min', 'max', 'client CPU'], [
    ['raw WebSocket, 1 socket', ...fig(raw), median(cpu.raw).toFixed(2)],
    ['1 farmer, 1 connection', ...fig(one), median(cpu.one).toFixed(2)],
    [`${FARMERS} farmers in parallel`, ...fig(six), median(cpu.six).toFixed(2)]
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
function fig (xs: number[]): string[] { return [median(xs), Math.min(...xs), Math.max(...xs)].map(x => x.toFixed(1)) }
