// Browser benchmark: upload and download of a generated file from headless Chromium to a local
// grid of 14 full farmers with the bench policy (RS(10,4) over three regions, archive as it was to 0.2.0), beside the raw
// aggregate throughput of the same page, over the same libp2p transport, to the same farmers.
//   raw        pre-made 1 MiB fragments PUT to all 14 farmers at once (`--streams` in flight per
//              farmer), MB/s of fragment bytes (10^6 bytes/s); raw GET fetches them back
//   upload     file bytes/s as the user sees them; the wire carries 1.4× that (14 fragments per
//              10 of data), so upload/raw compares upload wire MB/s (sent fragment bytes/s) to raw
//   download   file bytes/s into a sink that checks every segment against the source and drops it;
//              it receives about 1.0× the file (k data fragments), so download/raw is file MB/s / raw
//   CPU        CPU seconds per wall second (2.0 = both cores) of Chromium's threads and of the farmers
// The page runs the real wiring: createBrowserLibp2p (WebSockets, Noise, Yamux), Libp2pTransport,
// RelayDirectory, Upload, Download and the Web Worker codec pool (e2e/harness/bench.ts).
// Usage: node bench/browser.ts [--json] [--size 256MiB] [--runs N] [--concurrency N] [--streams N] [--explore] [--profile]
//   --concurrency  segments in flight in Upload and Download (default: theirs, 2 and 3); --streams  raw PUTs in
//   flight per farmer (default 1: at 2+ a farmer's ping to the page can wait > 5 s behind the queued
//   fragments and the farmer aborts the connection, seen at 256 MiB); --explore  afterwards, raw figures over streams and connections
//   per farmer; --profile  the page main thread's hottest functions and modules during the first
//   raw PUT+GET and the first download (CDP)
//   (npm run bench:browser runs it inside a loopback-only network namespace)
import { readdirSync, readFileSync } from 'node:fs'
import { mkdtemp } from 'node:fs/promises'
import { availableParallelism, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium, type Page } from 'playwright-core'
import { createServer, type ViteDevServer } from 'vite'
import { parseSize } from '../src/cli/args.ts'
import { GRID_REGIONS } from '../src/cli/grid.ts'
import { Grid } from '../test/grid/helpers.ts'
import type { DownloadFigures, RawResult, SetupResult, UploadFigures } from '../e2e/harness/bench.ts'
import { CHROMIUM_ARGS } from '../playwright.config.ts'
import { CLK_TCK, median, printTable } from './util.ts'

const FARMERS = 14
const MiB = 1 << 20
const ROOT = fileURLToPath(new URL('..', import.meta.url))

interface Opts { json: boolean, size: number, runs: number, concurrency: number | undefined, streams: number, explore: boolean, profile: boolean }

function parseArgs (argv: string[]): Opts {
  const o: Partial<Opts> & { json: boolean, explore: boolean } = { json: false, explore: false }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    const v = (): string => {
      const x = argv[++i]
      if (x === undefined) throw new Error(`${a} needs a value`)
      return x
    }
    if (a === '--json') o.json = true
    else if (a === '--explore') o.explore = true
    else if (a === '--size') o.size = parseSize('size', v())
    else if (a === '--runs') o.runs = positive(a, v())
    else if (a === '--concurrency') o.concurrency = positive(a, v())
    else if (a === '--streams') o.streams = positive(a, v())
    else if (a === '--profile') o.profile = true
    else throw new Error(`Unknown argument ${a}; use --json, --size SIZE, --runs N, --concurrency N, --streams N, --explore, --profile`)
  }
  const size = o.size ?? 256 * MiB
  // 256 MiB runs are long: one of each by default; smaller files get three and the median.
  return { json: o.json, explore: o.explore, size, runs: o.runs ?? (size >= 256 * MiB ? 1 : 3), concurrency: o.concurrency, streams: o.streams ?? 1, profile: o.profile ?? false }
}

function positive (flag: string, s: string): number {
  const n = Number(s)
  if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} needs a positive integer, got ${s}`)
  return n
}

// ── CPU accounting from /proc: Chromium's threads (grouped by process type and thread name) and the
// farmer processes, as CPU seconds per wall second over a phase.

type Ticks = Map<string, number>

function readStat (path: string): { comm: string, ppid: number, ticks: number } | undefined {
  try {
    const s = readFileSync(path, 'utf8')
    const close = s.lastIndexOf(')')
    const f = s.slice(close + 2).split(' ')
    return { comm: s.slice(s.indexOf('(') + 1, close), ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) }
  } catch { return undefined }
}

function processType (pid: number): string {
  try {
    // Chromium rewrites its argv (setproctitle): arguments may be separated by spaces, not NULs.
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split(/[\0 ]/)
    const t = cmd.find(a => a.startsWith('--type='))?.slice(7)
    if (t === undefined) return 'browser'
    if (t === 'utility') return cmd.some(a => a.includes('network.mojom.NetworkService')) ? 'network' : 'utility'
    return t
  } catch { return '?' }
}

/** Ticks per `type/thread` of every process descending from this one but outside `exclude`, and per farmer PID. */
function sampleCpu (exclude: Set<number>): { chromium: Ticks, farmers: number } {
  const parent = new Map<number, number>()
  const pids = readdirSync('/proc').filter(d => /^\d+$/.test(d)).map(Number)
  for (const pid of pids) {
    const st = readStat(`/proc/${pid}/stat`)
    if (st !== undefined) parent.set(pid, st.ppid)
  }
  const under = (pid: number, root: number): boolean => {
    for (let p = pid, n = 0; p > 1 && n < 64; p = parent.get(p) ?? 0, n++) if (p === root) return true
    return false
  }
  const chromium: Ticks = new Map()
  let farmers = 0
  for (const pid of pids) {
    if (pid === process.pid || !under(pid, process.pid)) continue
    if ([...exclude].some(x => under(pid, x))) {
      if (exclude.has(pid)) farmers += readStat(`/proc/${pid}/stat`)?.ticks ?? 0
      continue
    }
    const type = processType(pid)
    let tids: string[]
    try { tids = readdirSync(`/proc/${pid}/task`) } catch { continue }
    for (const tid of tids) {
      const st = readStat(`/proc/${pid}/task/${tid}/stat`)
      if (st === undefined) continue
      const key = `${type}/${st.comm.replace(/\d+$/, '')}`
      chromium.set(key, (chromium.get(key) ?? 0) + st.ticks)
    }
  }
  return { chromium, farmers }
}

interface CpuFigures { chromium_total: number, farmers: number, top: Record<string, number> }

async function withCpu<T> (exclude: Set<number>, fn: () => Promise<T>): Promise<{ value: T, cpu: CpuFigures }> {
  const a = sampleCpu(exclude)
  const t0 = performance.now()
  const value = await fn()
  const s = (performance.now() - t0) / 1000
  const b = sampleCpu(exclude)
  const per: Array<[string, number]> = []
  for (const [k, v] of b.chromium) per.push([k, (v - (a.chromium.get(k) ?? 0)) / CLK_TCK / s])
  per.sort((x, y) => y[1] - x[1])
  return {
    value,
    cpu: {
      chromium_total: round(per.reduce((n, [, v]) => n + v, 0), 2),
      farmers: round((b.farmers - a.farmers) / CLK_TCK / s, 2),
      top: Object.fromEntries(per.slice(0, 5).filter(([, v]) => v >= 0.02).map(([k, v]) => [k, round(v, 2)]))
    }
  }
}

// ── The run.

const opts = parseArgs(process.argv.slice(2))
const log = (s: string): void => { process.stderr.write(s + '\n') }
const load0 = loadavg()

const grid = new Grid()
grid.root = await mkdtemp(join(process.env.SHARDFARM_BENCH_DIR ?? tmpdir(), 'shardfarm-browser-'))
let vite: ViteDevServer | undefined
let browser: Awaited<ReturnType<typeof chromium.launch>> | undefined
try {
  const relay = await grid.relay(10_000)
  // A few at a time: the relay takes at most 5 new connections a second from one host.
  for (let i = 0; i < FARMERS; i += 4) {
    await Promise.all(Array.from({ length: Math.min(4, FARMERS - i) }, async (_, j) => await grid.farmer(`farmer-${i + j}`, relay.addr,
      ['--region', GRID_REGIONS[(i + j) % GRID_REGIONS.length]!, '--quota', '64GiB', '--heartbeat', '1000'])))
  }
  const farmerPids = new Set(grid.children.map(c => c.pid))
  log(`grid: relay + ${FARMERS} farmers in ${grid.root}`)

  vite = await createServer({
    root: ROOT, logLevel: 'warn', clearScreen: false,
    server: { host: '127.0.0.1', port: 0, strictPort: false, hmr: false },
    // Pre-bundle the harness's dependencies up front, so the page never reloads halfway.
    optimizeDeps: { entries: ['e2e/harness/bench.html'] }
  })
  await vite.listen()
  const address = vite.httpServer?.address()
  if (address === null || address === undefined || typeof address === 'string') throw new Error('vite gave no TCP address')
  const url = `http://127.0.0.1:${address.port}/e2e/harness/bench.html`

  browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: CHROMIUM_ARGS, headless: true })
  const page = await browser.newPage()
  page.on('pageerror', e => { log(`page error: ${e.message}`) })
  // SHARDFARM_BENCH_DEBUG=<debug namespaces> turns on libp2p's logs in the page and forwards them.
  const debug = process.env.SHARDFARM_BENCH_DEBUG
  if (debug !== undefined) await page.addInitScript((ns) => { localStorage.setItem('debug', ns) }, debug)
  page.on('console', m => { if (debug !== undefined || m.type() === 'error' || m.type() === 'warning') log(`page ${m.type()}: ${m.text()}`) })
  await page.goto(url)
  await page.waitForFunction(() => document.getElementById('status')?.textContent === 'ready', undefined, { timeout: 120_000 })
  const setup: SetupResult = await page.evaluate(async (a) => await window.benchHarness.setup(a), { relay: relay.addr, farmers: FARMERS })
  log(`page: ${setup.farmers} farmers ${JSON.stringify(setup.regions)}, codec ${setup.variant} × ${setup.codecWorkers} worker(s)`)

  const raws: Array<{ r: RawResult, cpu: CpuFigures }> = []
  const ups: Array<{ r: UploadFigures, cpu: CpuFigures }> = []
  const downs: Array<{ r: DownloadFigures, cpu: CpuFigures }> = []
  // The upload sends 1.4× the file in fragments: the raw run moves the same volume.
  const rawBytes = Math.round(opts.size * 1.4)
  let profile: Record<string, Record<string, number>> | undefined
  let downloadProfile: Record<string, Record<string, number>> | undefined
  for (let run = 0; run < opts.runs; run++) {
    const tag = `run ${run + 1}/${opts.runs}`
    const stopProfile = opts.profile && run === 0 ? await startProfile(page) : undefined
    const raw = await withCpu(farmerPids, async () => await page.evaluate(async (a) => await window.benchHarness.raw(a),
      { bytes: rawBytes, streams: opts.streams, seed: 1000 + run }))
    if (stopProfile !== undefined) profile = await stopProfile()
    raws.push({ r: raw.value, cpu: raw.cpu })
    log(`${tag}: raw PUT ${raw.value.put_mbps.toFixed(1)} MB/s, GET ${raw.value.get_mbps.toFixed(1)} MB/s (${raw.value.fragments} × 1 MiB, ${opts.streams}/farmer; chromium CPU ${raw.cpu.chromium_total}, farmers ${raw.cpu.farmers})`)
    const up = await withCpu(farmerPids, async () => await page.evaluate(async (a) => await window.benchHarness.upload(a),
      { size: opts.size, seed: 7 + run, concurrency: opts.concurrency }))
    ups.push({ r: up.value, cpu: up.cpu })
    log(`${tag}: upload ${up.value.mbps.toFixed(1)} MB/s (wire ${up.value.wire_mbps.toFixed(1)}) in ${up.value.seconds.toFixed(1)} s; chromium CPU ${up.cpu.chromium_total} ${JSON.stringify(up.cpu.top)}`)
    const stopDownloadProfile = opts.profile && run === 0 ? await startProfile(page) : undefined
    const down = await withCpu(farmerPids, async () => await page.evaluate(async (a) => await window.benchHarness.download(a),
      { concurrency: opts.concurrency, hedge: 1 }))
    if (stopDownloadProfile !== undefined) downloadProfile = await stopDownloadProfile()
    downs.push({ r: down.value, cpu: down.cpu })
    log(`${tag}: download ${down.value.mbps.toFixed(1)} MB/s in ${down.value.seconds.toFixed(1)} s, ${down.value.verified_bytes} bytes verified; chromium CPU ${down.cpu.chromium_total} ${JSON.stringify(down.cpu.top)}`)
  }
  // Last: a setting that overloads the connections may leave them aborted.
  const explore: Array<Record<string, unknown>> = []
  if (opts.explore) explore.push(...await exploreRaw(page, farmerPids))
  await page.evaluate(async () => { await window.benchHarness.teardown() })

  const rawMbps = median(raws.map(x => x.r.put_mbps))
  const rawGet = median(raws.map(x => x.r.get_mbps))
  const upMbps = median(ups.map(x => x.r.mbps))
  const upWire = median(ups.map(x => x.r.wire_mbps))
  const downMbps = median(downs.map(x => x.r.mbps))
  const load1 = loadavg()
  const result = {
    raw_mbps: round(rawMbps),
    upload_mbps: round(upMbps),
    download_mbps: round(downMbps),
    upload_vs_raw: round(upWire / rawMbps, 2),
    download_vs_raw: round(downMbps / rawMbps, 2),
    ratio_note: 'upload_vs_raw = upload wire MB/s (fragment bytes sent, 1.4x file) / raw PUT MB/s; download_vs_raw = download file MB/s / raw PUT MB/s',
    upload_wire_mbps: round(upWire),
    raw_get_mbps: round(rawGet),
    download_vs_raw_get: round(downMbps / rawGet, 2),
    size_bytes: opts.size,
    raw_bytes: raws[0]!.r.bytes,
    runs: opts.runs,
    statistic: opts.runs === 1 ? 'single run' : `median of ${opts.runs}`,
    segment_concurrency: opts.concurrency ?? 'defaults (upload 2, download 3)',
    download_hedge: 1,
    raw_streams_per_farmer: opts.streams,
    farmers: FARMERS,
    policy: 'bench-10+4 (RS(10,4), 3 regions)',
    codec: `${setup.variant} x ${setup.codecWorkers} worker(s)`,
    cpu: { raw: raws.at(-1)!.cpu, upload: ups.at(-1)!.cpu, download: downs.at(-1)!.cpu },
    load_avg_1m: { start: round(load0[0]!, 2), end: round(load1[0]!, 2) },
    ...(explore.length > 0 ? { explore } : {}),
    ...(profile !== undefined ? { raw_main_thread_profile: profile } : {}),
    ...(downloadProfile !== undefined ? { download_main_thread_profile: downloadProfile } : {})
  }

  console.log(`Browser (headless Chromium) ↔ ${FARMERS} full farmers over libp2p WebSockets, archive RS(10,4); file ${mib(opts.size)} MiB, ` +
    `${result.statistic}; segments in flight ${opts.concurrency ?? 'upload 2, download 3'}; raw ${mib(result.raw_bytes)} MiB of 1 MiB fragments, ${opts.streams} streams/farmer`)
  printTable(['figure', 'MB/s', 'vs raw PUT', 'chromium CPU', 'farmers CPU'], [
    ['raw PUT (fragment bytes)', f(rawMbps), '1.00', f(result.cpu.raw.chromium_total, 2), f(result.cpu.raw.farmers, 2)],
    ['raw GET (fragment bytes)', f(rawGet), f(rawGet / rawMbps, 2), '', ''],
    ['upload (file bytes)', f(upMbps), '', f(result.cpu.upload.chromium_total, 2), f(result.cpu.upload.farmers, 2)],
    ['upload (wire, 1.4× file)', f(upWire), f(result.upload_vs_raw, 2), '', ''],
    ['download (file bytes)', f(downMbps), f(result.download_vs_raw, 2), f(result.cpu.download.chromium_total, 2), f(result.cpu.download.farmers, 2)]
  ])
  console.log(`busiest Chromium threads (CPU s/s): raw ${JSON.stringify(result.cpu.raw.top)}; upload ${JSON.stringify(result.cpu.upload.top)}; download ${JSON.stringify(result.cpu.download.top)}`)
  console.log(`load average (1 min) ${result.load_avg_1m.start} → ${result.load_avg_1m.end} on ${availableParallelism()} cores shared with everything else`)
  if (profile !== undefined) console.log(`page main thread during raw PUT+GET, self-time share: ${JSON.stringify(profile)}`)
  if (downloadProfile !== undefined) console.log(`page main thread during the download, self-time share: ${JSON.stringify(downloadProfile)}`)
  if (opts.json) console.log(JSON.stringify(result))
} catch (err) {
  // What the grid said last: warnings and errors of the relay and the farmers.
  for (const c of grid.children) {
    const bad = c.logs.filter(l => !l.includes('"level":"info"') && !l.includes('"level":"debug"')).slice(-12)
    for (const l of bad) log(`${c.name}: ${l}`)
  }
  throw err
} finally {
  await browser?.close().catch(() => {})
  await vite?.close().catch(() => {})
  await grid.destroy()
}

/**
 * Raw PUT/GET of 64 MiB per setting: streams per farmer and connections per farmer. A setting that
 * fails (a farmer aborting the connection) is recorded as such; libp2p dials again for the next.
 */
async function exploreRaw (page: Page, farmerPids: Set<number>): Promise<Array<Record<string, unknown>>> {
  const out: Array<Record<string, unknown>> = []
  let seed = 5000
  for (const [streams, connections] of [[1, 1], [2, 1], [1, 2], [2, 2], [3, 1], [4, 1]] as const) {
    let row: Record<string, unknown>
    try {
      const r = await withCpu(farmerPids, async () => await page.evaluate(async (a) => await window.benchHarness.raw(a),
        { bytes: 64 * MiB, streams, connections, seed: seed++ }))
      row = { streams, connections, put_mbps: round(r.value.put_mbps), get_mbps: round(r.value.get_mbps), chromium_cpu: r.cpu.chromium_total, farmers_cpu: r.cpu.farmers, top: r.cpu.top }
    } catch (err) {
      row = { streams, connections, failed: (err as Error).message.split('\n')[0] }
    }
    log(`explore: ${JSON.stringify(row)}`)
    out.push(row)
  }
  return out
}

/** Starts the CDP sampling profiler of the page; the returned function stops it and gives the top self-time shares. */
async function startProfile (page: Page): Promise<() => Promise<Record<string, Record<string, number>>>> {
  const cdp = await page.context().newCDPSession(page)
  await cdp.send('Profiler.enable')
  await cdp.send('Profiler.setSamplingInterval', { interval: 1000 })
  await cdp.send('Profiler.start')
  return async () => {
    const { profile } = await cdp.send('Profiler.stop')
    const byId = new Map(profile.nodes.map(n => [n.id, n]))
    const self = new Map<string, number>()
    const byModule = new Map<string, number>()
    const dt = profile.timeDeltas ?? []
    let total = 0
    for (let i = 0; i < (profile.samples ?? []).length; i++) {
      const n = byId.get(profile.samples![i]!)
      if (n === undefined) continue
      const cf = n.callFrame
      const file = cf.url.replace(/^.*\/node_modules\//, '').replace(/^https?:\/\/[^/]+\//, '').replace(/\?.*$/, '').replace(/\/dist\/src\//, '/')
      const key = cf.functionName === '(idle)' || cf.functionName === '(program)' || cf.functionName === '(garbage collector)' ? cf.functionName : `${cf.functionName || '(anon)'} ${file}`
      const d = dt[i] ?? 0
      self.set(key, (self.get(key) ?? 0) + d)
      const special = cf.functionName === '(idle)' || cf.functionName === '(program)' || cf.functionName === '(garbage collector)'
      const mod = special ? cf.functionName : file === '' ? '(native)' : (/^(@[^/]+\/[^/]+|[^/]+)/.exec(file)?.[1] ?? '') + (file.startsWith('src/') ? '/' + file.split('/')[1]! : '')
      byModule.set(mod, (byModule.get(mod) ?? 0) + d)
      total += d
    }
    await cdp.detach()
    const top = (m: Map<string, number>, n: number): Record<string, number> => Object.fromEntries([...m].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, v]) => [k, round(v / total, 3)]))
    return { functions: top(self, 14), modules: top(byModule, 12) }
  }
}

function round (x: number, digits = 1): number {
  const p = 10 ** digits
  return Math.round(x * p) / p
}

function f (x: number, digits = 1): string {
  return x.toFixed(digits)
}

function mib (b: number): string {
  return (b / MiB).toFixed(b % MiB === 0 ? 0 : 1)
}
