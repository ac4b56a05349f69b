// End-to-end benchmark: `shardfarm put` and `shardfarm get` of generated files over a local grid of
// 14 farmer processes with the bench policy (archive as it was to 0.2.0), RS(10,4) over three regions, the CLI a real child
// process. Beside them, in the same run and to the same farmers, the baseline: plain PUTs of
// pre-made 1 MiB fragments from this process (FarmerClient: no codec, no crypto, no files).
//   raw        fragment bytes/s of those PUTs, all 14 farmers at once, 4 in flight each; measured
//              before the first put and again after each get, and the median is the baseline
//              (single raw runs on this shared machine ranged 59–118 MB/s within an hour)
//   runs       sizes up to 1 GiB are put and got 3 times (--runs N), larger ones once; the figures
//              are the medians (peak RSS: the highest). The machine's speed drifts within minutes
//              (raw 93 → 138 MB/s within one run), so each run is also compared with the mean of
//              the raw runs just before and after it (*_bracketed: per-run ratios, and their median). Before anything is timed, an untimed raw
//              run warms the fresh grid up: its farmers' first few hundred MB cost them 30–60 %
//              more CPU than later ones (JIT, heap growth), which fell on whatever ran first
//   put, get   file bytes/s (plaintext, 10^6 bytes = 1 MB) as the user sees them; the put sends
//              1.4× that over the wire (k + m = 14 fragments for every 10 of data). A put that
//              kept the farmers as busy as raw PUTs do would reach raw / 1.4 in file bytes, so the
//              put is compared with raw on the wire (put_wire_vs_raw), the get in file bytes
//   peak RSS   VmHWM of the CLI process (worker threads included), read from /proc while it runs
//   CPU        CPU seconds per wall second of the CLI, and of the 14 farmers together (2.0 = two cores)
// Before each timed phase (raw, put, get) the bench runs `sync`, so no phase pays for the disk
// writeback the one before left behind (see settleDisk in bench/util.ts).
// Files and farmer stores go to a temp dir (SHARDFARM_BENCH_DIR to put them elsewhere).
// --split pins the grid (relay and farmers) to the second CPU and the client side (this process's
// raw PUTs, the CLI and its codec worker) to the first, so that the client's encryption, coding and
// hashing no longer take CPU from the farmers, as on a real grid where farmers are other machines.
// Usage: node bench/e2e.ts [--json] [--sizes 1GiB,4GiB] [--runs 3] [--raw-mib 448] [--split]
import { execFileSync, spawn } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { createReadStream, readFileSync } from 'node:fs'
import { mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { multiaddr } from '@multiformats/multiaddr'
// @ts-expect-error plain JavaScript without declarations (the launcher's own module)
import { freshBundle } from '../bin/cli-bundle.js'
import { parseSize } from '../src/cli/args.ts'
import { GRID_REGIONS } from '../src/cli/grid.ts'
import { spawnShardfarm, stopChild } from '../src/cli/spawn.ts'
import type { ShardfarmChild } from '../src/cli/spawn.ts'
import { FarmerClient } from '../src/client/adapters/farmer-client.ts'
import { createNodeLibp2p } from '../src/net/libp2p.node.ts'
import { queryDirectory } from '../src/net/protocols/directory.ts'
import { BENCH_POLICY } from '../test/support/test-policy.ts'
import { CLK_TCK, cpuMeter, cpuTicks, ensureCliBundle, median, printTable, settleDisk } from './util.ts'

/** The owner key benchmark puts claim with (only its public half travels). */
const BENCH_OWNER = { publicKey: Buffer.alloc(32, 7).toString('base64') }

const FARMERS = 14
const FRAGMENT = 1 << 20
const IN_FLIGHT = 4
const BIN = fileURLToPath(new URL('../bin/shardfarm.js', import.meta.url))

const opts = parseArgs(process.argv.slice(2))
ensureCliBundle()
const log = (s: string): void => { process.stderr.write(s + '\n') }

/** One CLI run's figures. */
interface Run { seconds: number, peakRssMiB: number, cpu: number, farmerCpu: number, stdout: string }

/** One size's figures: medians over its runs, peak RSS the highest. */
interface SizeFigures {
  runs: number, put_mbps: number, get_mbps: number, put_s: number, get_s: number, put_wire_mbps: number,
  put_mbps_runs: number[], get_mbps_runs: number[], put_wire_vs_raw_bracketed: number[], get_vs_raw_bracketed: number[],
  put_peak_rss_mib: number, get_peak_rss_mib: number, put_cpu: number, get_cpu: number, farmers_cpu_put: number, farmers_cpu_get: number
}

/** Pins every thread of `pid` to one CPU (threads it starts later inherit it). */
const pin = (pid: number, cpu: number): void => { execFileSync('taskset', ['-a', '-p', '-c', String(cpu), String(pid)], { stdio: 'ignore' }) }
if (opts.split) pin(process.pid, 0)

const root = await mkdtemp(join(process.env.SHARDFARM_BENCH_DIR ?? tmpdir(), 'shardfarm-e2e-'))
const policyFile = join(root, 'policy.json') // 10 + 4 over three regions, as the figures' history used
await writeFile(policyFile, JSON.stringify(BENCH_POLICY))
const children: ShardfarmChild[] = []
const libp2p = await createNodeLibp2p()
try {
  const relay = await spawnShardfarm(['relay', '--data', join(root, 'relay'), '--vetting-period', '0', '--shared-subnets'], { name: 'bench-relay', stderr: 'ignore' })
  children.push(relay)
  // Started a few at a time: the relay takes at most 5 new connections a second from one host.
  const farmers: ShardfarmChild[] = []
  for (let i = 0; i < FARMERS; i += 4) {
    farmers.push(...await Promise.all(Array.from({ length: Math.min(4, FARMERS - i) }, async (_, j) => await spawnShardfarm([
      'farmer', '--data', join(root, `farmer-${i + j}`), '--region', GRID_REGIONS[(i + j) % GRID_REGIONS.length]!,
      '--relay', relay.addr, '--quota', '64GiB', '--heartbeat', '1000'
    ], { name: `bench-farmer-${i + j}`, stderr: 'ignore' }))))
  }
  children.push(...farmers)
  if (opts.split) for (const c of children) pin(c.pid, 1)
  await waitListed(relay.addr, FARMERS)
  // The relay by its variable, and config in the bench's folder, so the person's own is never read.
  const env = { ...process.env, SHARDFARM_HOME: join(root, 'client'), SHARDFARM_CONFIG: join(root, 'config'), SHARDFARM_RELAY: relay.addr }
  const farmerPids = farmers.map(f => f.pid)

  // The launcher's own choice (bin/shardfarm.js), made the same way.
  let stale = 'SHARDFARM_FROM_SOURCE is set'
  const fromSource = !['', '0', undefined].includes(process.env.SHARDFARM_FROM_SOURCE)
  const cli = !fromSource && (freshBundle as (root: string, dir?: string, why?: (r: string) => void) => string | undefined)(
    fileURLToPath(new URL('..', import.meta.url)), process.env.SHARDFARM_CLI_BUNDLE || undefined, r => { stale = r }) !== undefined ? 'bundle' : 'source'
  log(`grid: relay + ${FARMERS} farmers in ${root}; the CLI runs from the ${cli === 'bundle' ? 'bundle (dist-cli/)' : `sources (${stale})`}` +
    (opts.split ? '; split: grid on CPU 1, client side on CPU 0' : ''))
  const warm = await rawPuts(farmers.map(f => f.addr), opts.rawMiB)
  log(`warm-up (untimed): raw ${warm.mbps.toFixed(1)} MB/s`)
  const raws: Array<{ mbps: number, cpu: number }> = []
  const measureRaw = async (): Promise<void> => {
    settleDisk()
    const r = await rawPuts(farmers.map(f => f.addr), opts.rawMiB)
    raws.push(r)
    log(`raw: ${r.mbps.toFixed(1)} MB/s (${opts.rawMiB} MiB of 1 MiB fragments, this process at ${r.cpu.toFixed(2)} CPU)`)
  }
  await measureRaw()

  const sizes: Record<string, SizeFigures> = {}
  for (const [label, size] of opts.sizes) {
    const src = join(root, `file-${label}.bin`)
    const out = join(root, `file-${label}.out`)
    log(`${label}: generating ${size} random bytes`)
    const digest = await writeRandomFile(src, size)
    const runs = size <= 2 ** 30 ? opts.runs : 1
    const firstRaw = raws.length - 1
    const puts: Run[] = []
    const gets: Run[] = []
    const sent: number[] = []
    for (let run = 1; run <= runs; run++) {
      const tag = `${label} ${run}/${runs}`
      log(`${tag}: put (sync took ${settleDisk().toFixed(1)} s)`)
      // A fresh client home each run: the same file must be sent again, not resumed from a journal.
      const runEnv = { ...env, SHARDFARM_HOME: join(root, `client-${label}-${run}`) }
      const put = await timeCli(['put', src, '--json', '--policy', policyFile], runEnv, farmerPids)
      const { link, sentBytes } = JSON.parse(put.stdout) as { link: string, sentBytes: number }
      log(`${tag}: get (sync took ${settleDisk().toFixed(1)} s)`)
      const get = await timeCli(['get', link, '-o', out], runEnv, farmerPids)
      if (await sha256File(out) !== digest) throw new Error(`${label}: the file came back different`)
      await rm(out)
      puts.push(put)
      gets.push(get)
      sent.push(sentBytes)
      log(`${tag}: put ${(size / 1e6 / put.seconds).toFixed(1)} MB/s (wire ${(sentBytes / 1e6 / put.seconds).toFixed(1)}), get ${(size / 1e6 / get.seconds).toFixed(1)} MB/s`)
      await measureRaw()
    }
    await rm(src)
    // Run i sits between raws[firstRaw + i] and raws[firstRaw + i + 1].
    const around = puts.map((_, i) => (raws[firstRaw + i]!.mbps + raws[firstRaw + i + 1]!.mbps) / 2)
    const putBracketed = puts.map((r, i) => round(sent[i]! / 1e6 / r.seconds / around[i]!, 2))
    const getBracketed = gets.map((r, i) => round(size / 1e6 / r.seconds / around[i]!, 2))
    const putS = median(puts.map(r => r.seconds))
    const getS = median(gets.map(r => r.seconds))
    sizes[label] = {
      runs,
      put_mbps: round(size / 1e6 / putS), get_mbps: round(size / 1e6 / getS),
      put_s: round(putS), get_s: round(getS), put_wire_mbps: round(median(sent) / 1e6 / putS),
      put_mbps_runs: puts.map(r => round(size / 1e6 / r.seconds)), get_mbps_runs: gets.map(r => round(size / 1e6 / r.seconds)),
      put_wire_vs_raw_bracketed: putBracketed, get_vs_raw_bracketed: getBracketed,
      put_peak_rss_mib: round(Math.max(...puts.map(r => r.peakRssMiB))), get_peak_rss_mib: round(Math.max(...gets.map(r => r.peakRssMiB))),
      put_cpu: round(median(puts.map(r => r.cpu)), 2), get_cpu: round(median(gets.map(r => r.cpu)), 2),
      farmers_cpu_put: round(median(puts.map(r => r.farmerCpu)), 2), farmers_cpu_get: round(median(gets.map(r => r.farmerCpu)), 2)
    }
    log(`${label}: put ${sizes[label].put_mbps} MB/s, get ${sizes[label].get_mbps} MB/s (${runs === 1 ? 'one run' : `medians of ${runs}`})`)
  }
  const raw = { mbps: median(raws.map(r => r.mbps)), cpu: median(raws.map(r => r.cpu)) }

  const first = sizes[opts.sizes[0]![0]]!
  const result = {
    raw_mbps: round(raw.mbps),
    put_mbps: first.put_mbps,
    get_mbps: first.get_mbps,
    raw_mbps_runs: raws.map(r => round(r.mbps)),
    put_vs_raw: round(first.put_mbps / raw.mbps, 2),
    put_wire_vs_raw: round(first.put_wire_mbps / raw.mbps, 2),
    get_vs_raw: round(first.get_mbps / raw.mbps, 2),
    put_wire_vs_raw_bracketed: round(median(first.put_wire_vs_raw_bracketed), 2),
    get_vs_raw_bracketed: round(median(first.get_vs_raw_bracketed), 2),
    peak_rss_mib: Object.fromEntries(Object.entries(sizes).map(([l, s]) => [l, Math.max(s.put_peak_rss_mib, s.get_peak_rss_mib)])),
    sizes,
    raw_client_cpu: round(raw.cpu, 2),
    warmup_raw_mbps: round(warm.mbps),
    cli,
    farmers: FARMERS,
    policy: 'bench-10+4 (3 regions)',
    cores: (await readFile('/proc/cpuinfo', 'utf8')).split('\n').filter(l => l.startsWith('processor')).length,
    split: opts.split
  }
  printTable(['figure', ...Object.keys(sizes)], [
    ['runs (figures are medians)', ...Object.values(sizes).map(s => String(s.runs))],
    ['put MB/s (file bytes)', ...Object.values(sizes).map(s => s.put_mbps.toFixed(1))],
    ['put MB/s (wire, ×1.4)', ...Object.values(sizes).map(s => s.put_wire_mbps.toFixed(1))],
    ['get MB/s', ...Object.values(sizes).map(s => s.get_mbps.toFixed(1))],
    [`raw PUT MB/s (median of ${raws.length})`, ...Object.values(sizes).map(() => raw.mbps.toFixed(1))],
    ['CLI peak RSS MiB, put', ...Object.values(sizes).map(s => s.put_peak_rss_mib.toFixed(0))],
    ['CLI peak RSS MiB, get', ...Object.values(sizes).map(s => s.get_peak_rss_mib.toFixed(0))],
    ['CLI CPU put / get', ...Object.values(sizes).map(s => `${s.put_cpu.toFixed(2)} / ${s.get_cpu.toFixed(2)}`)],
    ['farmers CPU put / get', ...Object.values(sizes).map(s => `${s.farmers_cpu_put.toFixed(2)} / ${s.farmers_cpu_get.toFixed(2)}`)]
  ])
  console.log(`raw runs ${raws.map(r => r.mbps.toFixed(1)).join(', ')} MB/s; ` +
    Object.entries(sizes).map(([l, s]) => `${l} put runs ${s.put_mbps_runs.join(', ')}, get runs ${s.get_mbps_runs.join(', ')} MB/s`).join('; '))
  console.log(`put / raw = ${result.put_wire_vs_raw} on the wire (${result.put_vs_raw} in file bytes)   get / raw = ${result.get_vs_raw}   (${opts.split ? `split: client on CPU 0, relay and ${FARMERS} farmers on CPU 1` : `${result.cores} cores for client, relay and ${FARMERS} farmers`})`)
  console.log('each run against the raw runs around it: ' + Object.entries(sizes).map(([l, s]) =>
    `${l} put ${s.put_wire_vs_raw_bracketed.join(', ')} (wire), get ${s.get_vs_raw_bracketed.join(', ')}`).join('; ') +
    ` (medians for ${opts.sizes[0]![0]}: put ${result.put_wire_vs_raw_bracketed}, get ${result.get_vs_raw_bracketed})`)
  if (opts.json) console.log(JSON.stringify(result))
} finally {
  await libp2p.stop()
  await Promise.all(children.slice(1).map(async c => await stopChild(c)))
  if (children[0] !== undefined) await stopChild(children[0])
  await rm(root, { recursive: true, force: true })
}

/** Aggregate PUT throughput of pre-made 1 MiB fragments to every farmer at once, after a warm-up. */
async function rawPuts (addrs: string[], mib: number): Promise<{ mbps: number, cpu: number }> {
  const client = new FarmerClient({ libp2p }, { timeoutMs: 120_000 })
  const base = new Uint8Array(randomBytes(FRAGMENT))
  let counter = 0
  const make = (n: number): Array<{ id: string, bytes: Uint8Array }> => Array.from({ length: n }, () => {
    const bytes = base.slice()
    new DataView(bytes.buffer).setFloat64(0, ++counter)
    return { id: createHash('sha256').update(bytes).digest('hex'), bytes }
  })
  const putAll = async (frags: Array<Array<{ id: string, bytes: Uint8Array }>>): Promise<void> => {
    await Promise.all(addrs.map(async (a, i) => {
      const mine = frags[i]!
      let next = 0
      await Promise.all(Array.from({ length: IN_FLIGHT }, async () => {
        while (next < mine.length) await client.put(multiaddr(a), mine[next]!.id, mine[next++]!.bytes, { owner: BENCH_OWNER })
      }))
    }))
  }
  await putAll(addrs.map(() => make(IN_FLIGHT))) // connections, Noise handshakes, JIT
  const per = Math.max(IN_FLIGHT, Math.round(mib / addrs.length))
  const batches = addrs.map(() => make(per))
  const c0 = process.cpuUsage()
  const t0 = performance.now()
  await putAll(batches)
  const s = (performance.now() - t0) / 1000
  const c = process.cpuUsage(c0)
  return { mbps: addrs.length * per * FRAGMENT / 1e6 / s, cpu: (c.user + c.system) / 1e6 / s }
}

/** Runs the CLI to its end, sampling its peak RSS and its and the farmers' CPU time from /proc. */
async function timeCli (args: string[], env: NodeJS.ProcessEnv, farmerPids: number[]): Promise<Run> {
  const farmerSeconds = cpuMeter(farmerPids)
  const t0 = performance.now()
  const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ['ignore', 'pipe', 'inherit'] })
  let stdout = ''
  child.stdout.on('data', (b: Buffer) => { stdout += b.toString() })
  let peakKiB = 0
  let ticks = 0
  const sample = (): void => {
    peakKiB = Math.max(peakKiB, statusKiB(child.pid!, 'VmHWM'))
    ticks = Math.max(ticks, cpuTicks(child.pid!))
  }
  const timer = setInterval(sample, 50)
  const code = await new Promise<number | null>(resolve => { child.once('exit', c => { resolve(c) }) })
  clearInterval(timer)
  const seconds = (performance.now() - t0) / 1000
  const farmerCpu = farmerSeconds() / seconds
  if (code !== 0) throw new Error(`shardfarm ${args[0]} exited ${code}`)
  return { seconds, peakRssMiB: peakKiB / 1024, cpu: ticks / CLK_TCK / seconds, farmerCpu, stdout }
}

/** A `Vm*` line of /proc/<pid>/status in KiB (0 once the process is gone). */
function statusKiB (pid: number, field: string): number {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8') // synchronous: sampled on a timer, and /proc never waits on a disk
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)
    return m === null ? 0 : Number(m[1])
  } catch { return 0 }
}

async function waitListed (relayAddr: string, n: number): Promise<void> {
  const until = Date.now() + 60_000
  while (Date.now() < until) {
    const listed = await queryDirectory(libp2p, multiaddr(relayAddr)).catch(() => [])
    if (listed.length >= n) return
    await new Promise(resolve => setTimeout(resolve, 500))
  }
  throw new Error(`the relay's directory never listed ${n} farmers`)
}

async function writeRandomFile (path: string, size: number): Promise<string> {
  const hash = createHash('sha256')
  const fh = await open(path, 'w')
  try {
    const chunk = 16 << 20
    for (let at = 0; at < size; at += chunk) {
      const buf = randomBytes(Math.min(chunk, size - at))
      hash.update(buf)
      await fh.write(buf)
    }
  } finally {
    await fh.close()
  }
  return hash.digest('hex')
}

async function sha256File (path: string): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(path, { highWaterMark: 4 << 20 })) hash.update(chunk as Buffer)
  return hash.digest('hex')
}

function parseArgs (argv: string[]): { json: boolean, sizes: Array<[string, number]>, rawMiB: number, runs: number, split: boolean } {
  const out = { json: false, sizes: [['1GiB', 2 ** 30], ['4GiB', 2 ** 32]] as Array<[string, number]>, rawMiB: 448, runs: 3, split: false }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === '--json') out.json = true
    else if (a === '--sizes') out.sizes = (argv[++i] ?? '').split(',').filter(Boolean).map(s => [s, parseSize('sizes', s)])
    else if (a === '--raw-mib') out.rawMiB = Number(argv[++i])
    else if (a === '--runs') out.runs = Number(argv[++i])
    else if (a === '--split') out.split = true
    else throw new Error(`Unknown argument ${a}; use --json, --sizes 1GiB,4GiB, --runs N, --raw-mib N and --split`)
  }
  if (out.sizes.length === 0) throw new Error('--sizes needs at least one size, e.g. 256MiB')
  if (!Number.isInteger(out.rawMiB) || out.rawMiB < 1) throw new Error('--raw-mib needs a positive integer')
  if (!Number.isInteger(out.runs) || out.runs < 1) throw new Error('--runs needs a positive integer')
  return out
}

function round (x: number, digits = 1): number { const f = 10 ** digits; return Math.round(x * f) / f }
