// Repair benchmark: `shardfarm repair` beside a `shardfarm get` of the same file, in the same run,
// over a local grid of real farmer processes (relay + k + 2m + 2 farmers, RS(k, m), default 4 + 2),
// and the keeper's audit cost per stored GiB per day.
//   each run   a fresh file (--size, 64 MiB) is put (untimed); the owner then deletes, with signed
//              DELETEs, m fragments of every segment at all their holders, so the repair has to
//              rebuild m fragments per segment from k fetched ones. `get` (timed) and `repair`
//              (timed) alternate in order from run to run; each get is of the whole, healthy file.
//   get        file bytes/s as the user sees them (it fetches k fragments a segment and decodes)
//   repair     fragment bytes rebuilt and stored per second (m × shard length × segments / s), the
//              issue's figure; beside it the file bytes walked per second (the file's size over
//              the repair's time), which is get's unit. A repair fetches what a get fetches
//              (k fragments a segment) and stores m more, so rebuilt bytes per second can reach at
//              most m / k of get's rate: repair_vs_get (target ≥ 0.8) compares the walk rates,
//              rebuilt_vs_get the literal bytes. Both CLI processes pay their start-up.
//   CPU        beside them: CPU seconds of the CLI (worker threads included) and of the grid (the
//              relay and the farmers) per second, and both together per run; and the CLI main
//              thread's seconds on a core and waiting in a run queue for one (schedstat). On a
//              machine whose cores the grid shares, the wait is what the grid's share costs the
//              CLI; repair_vs_get_on_core compares the main thread's time on a core alone.
//   audits     the keeper's audits (16 random 1 KiB leaves with Merkle paths) of the file's
//              fragments: bytes on the wire, CPU ms of the auditor and of the farmers, per copy,
//              one copy a stream and in batches of up to 8 copies of one farmer (as the keeper);
//              times the audits a day the keeper's default budget (3600 an hour) spends on a GiB it
//              keeps alone (the budget, or every copy every round if that is fewer).
//   --link R   the CLI runs on a host of its own, whose link to the grid carries R (tc syntax:
//              100mbit) each way, as a keeper or a person on a real network would; the relay and the
//              farmers share another host. Without it everything is on loopback, where nothing but
//              CPU limits either command (and 11 processes share the machine's cores). Needs
//              network namespaces (root): the bench re-runs itself in one of its own
//              (scripts/netns.sh) and makes the hosts inside it (test/support/hosts.ts).
// Medians over --runs (3). Farmer stores go to a temp dir (SHARDFARM_BENCH_DIR to put them elsewhere).
// Usage: node bench/repair.ts [--json] [--size 64MiB] [--runs 3] [--k 4] [--m 2] [--link 100mbit]
import { spawn, spawnSync } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseSize } from '../src/cli/args.ts'
import { GRID_REGIONS } from '../src/cli/grid.ts'
import { spawnShardfarm, stopChild, type ShardfarmChild } from '../src/cli/spawn.ts'
import { AuditClient } from '../src/client/adapters/audit-client.ts'
import { installNodeEngines } from '../src/client/adapters/hash.node.ts'
import { fetchVerifyManifest } from '../src/client/blocks/open-manifest.ts'
import { OwnerIndex } from '../src/client/owner-index.ts'
import { nodeKeyValueStore, openNodeClient } from '../src/client/session.node.ts'
import { parseCapability } from '../src/core/capability.ts'
import { fromBase64, ownerKeyFromSeed } from '../src/core/owner-key.ts'
import { KEEPER_AUDITS_PER_HOUR, KEEPER_INTERVAL_MS } from '../src/keeper/keeper.ts'
import { MAX_AUDIT_BATCH } from '../src/net/protocols/audit.ts'
import { Lan, namespacesUnavailable, parseRate, startShardfarm, type Host } from '../test/support/hosts.ts'
import { CLK_TCK, cpuMeter, cpuTicks, ensureCliBundle, median, printTable, settleDisk, threadSched } from './util.ts'

const BIN = fileURLToPath(new URL('../bin/shardfarm.js', import.meta.url))
const GiB = 2 ** 30
const opts = parseArgs(process.argv.slice(2))
if (opts.link !== undefined && process.env.SHARDFARM_BENCH_NETNS !== '1') {
  // The hosts are made inside a namespace of this run's own, never beside the machine's interfaces.
  const why = namespacesUnavailable()
  if (why !== undefined) throw new Error(`--link needs network namespaces: ${why}`)
  const netns = fileURLToPath(new URL('../scripts/netns.sh', import.meta.url))
  const r = spawnSync('bash', [netns, process.execPath, ...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)],
    { stdio: 'inherit', env: { ...process.env, SHARDFARM_BENCH_NETNS: '1' } })
  process.exit(r.status ?? 1)
}
installNodeEngines() // as the CLI and the keeper hash
ensureCliBundle()
const { k, m } = opts
const FARMERS = k + 2 * m + 2
const log = (s: string): void => { process.stderr.write(s + '\n') }
const round = (x: number, digits = 1): number => { const f = 10 ** digits; return Math.round(x * f) / f }

/** One keeper audit's cost, and how many fragment copies a GiB of file makes. */
interface AuditCost { bytes: number, auditorCpuMs: number, farmerCpuMs: number, ms: number, shard: number, copiesPerGiB: number }

const root = await mkdtemp(join(process.env.SHARDFARM_BENCH_DIR ?? tmpdir(), 'shardfarm-repair-'))
const children: ShardfarmChild[] = []
// With --link: the grid's host, the CLI's host (its link shaped) and this process, joined to both.
const lan = opts.link !== undefined ? new Lan() : undefined
let client: Host | undefined
try {
  let grid: Host | undefined
  if (lan !== undefined) {
    await lan.build([{ name: 'grid', octet: 1 }, { name: 'client', octet: 2 }])
    await lan.join('bench', 3)
    grid = lan.host('grid')
    client = lan.host('client')
    await lan.shape(client, opts.link!)
  }
  /** A relay or a farmer, on the grid's host when there is one (listening on its address). */
  const start = async (name: string, args: string[]): Promise<ShardfarmChild> => grid === undefined
    ? await spawnShardfarm(args, { name, stderr: 'ignore' })
    : await startShardfarm(lan!, grid, name, [...args, '--listen', `${grid.ip}:0`])
  const relay = await start('bench-relay', ['relay', '--data', join(root, 'relay'), '--vetting-period', '0', '--shared-subnets'])
  children.push(relay)
  const farmers: ShardfarmChild[] = []
  // A few at a time: the relay takes at most 5 new connections a second from one host.
  for (let i = 0; i < FARMERS; i += 4) {
    farmers.push(...await Promise.all(Array.from({ length: Math.min(4, FARMERS - i) }, async (_, j) => await start(`bench-farmer-${i + j}`, [
      'farmer', '--data', join(root, `farmer-${i + j}`), '--region', GRID_REGIONS[(i + j) % GRID_REGIONS.length]!,
      '--relay', relay.addr, '--quota', '64GiB', '--heartbeat', '1000'
    ]))))
  }
  children.push(...farmers)
  const farmerPids = farmers.map(f => f.pid)
  const gridPids = [relay.pid, ...farmerPids]
  const policyFile = join(root, 'policy.json')
  await writeFile(policyFile, JSON.stringify({ name: 'bench', k, m }))
  const envOf = (home: string): NodeJS.ProcessEnv => ({ ...process.env, SHARDFARM_HOME: home, SHARDFARM_CONFIG: join(root, 'config'), SHARDFARM_RELAY: relay.addr })
  await waitListed()
  log(`grid: relay + ${FARMERS} farmers, RS(${k}, ${m}), ${opts.link !== undefined ? `the CLI on a ${opts.link} link` : 'loopback'}, in ${root}`)

  const src = join(root, 'file.bin')
  const out = join(root, 'file.out')
  const gets: number[] = []
  const repairs: number[] = []
  const rebuiltBytes: number[] = []
  const repairCpu: number[] = []
  const getCpu: number[] = []
  const gridCpu = { get: [] as number[], repair: [] as number[] }
  const mainThread = { get: [] as Sched[], repair: [] as Sched[] }
  let audit: { single: AuditCost, batched: AuditCost } | undefined
  for (let run = 0; run <= opts.runs; run++) {
    const warm = run === 0 // an untimed first run: connections, JIT, the farmers' first writes
    const tag = warm ? 'warm-up' : `run ${run}/${opts.runs}`
    const home = join(root, `client-${run}`)
    const env = envOf(home)
    const digest = await writeRandomFile(src, opts.size)
    const put = await cli(['put', src, '--json', '--policy', policyFile], env)
    const link = (JSON.parse(put.stdout) as { link: string }).link
    const timeGet = async (): Promise<void> => {
      settleDisk()
      const r = await cli(['get', link, '-o', out, '--force'], env, gridPids)
      if (await sha256File(out) !== digest) throw new Error('the file came back different')
      await rm(out)
      if (!warm) { gets.push(r.seconds); getCpu.push(r.cpu); gridCpu.get.push(r.gridCpu); mainThread.get.push(r.main) }
      log(`${tag}: get ${(opts.size / 1e6 / r.seconds).toFixed(1)} MB/s (${r.seconds.toFixed(2)} s)`)
    }
    const timeRepair = async (): Promise<void> => {
      const lost = await damage(link, home)
      settleDisk()
      const r = await cli(['repair', link, '--json'], env, gridPids)
      const stored = (JSON.parse(r.stdout) as { fragmentsStored?: number }).fragmentsStored
      if (stored !== lost.fragments) throw new Error(`repair stored ${String(stored)} fragments, ${lost.fragments} were deleted`)
      if (!warm) { repairs.push(r.seconds); rebuiltBytes.push(lost.bytes); repairCpu.push(r.cpu); gridCpu.repair.push(r.gridCpu); mainThread.repair.push(r.main) }
      log(`${tag}: repair rebuilt ${lost.fragments} fragments, ${(lost.bytes / 1e6 / r.seconds).toFixed(1)} MB/s rebuilt, ` +
        `${(opts.size / 1e6 / r.seconds).toFixed(1)} MB/s of file walked (${r.seconds.toFixed(2)} s)`)
    }
    if (run % 2 === 0) { await timeGet(); await timeRepair() } else { await timeRepair(); await timeGet() }
    if (run === 1) audit = await auditCost(link, home, farmerPids)
    await rm(src)
  }

  const getS = median(gets)
  const repairS = median(repairs)
  const rebuilt = median(rebuiltBytes)
  const getMbps = opts.size / 1e6 / getS
  const rebuiltMbps = rebuilt / 1e6 / repairS
  const walkMbps = opts.size / 1e6 / repairS
  const { single: one, batched: a } = audit!
  // CPU seconds of the CLI and the grid together, per run: on loopback every process shares the
  // machine's cores, and a repair asks more of both sides (the farmers take, store and prove m
  // fragments a segment where a get only has them read k).
  const cpuS = {
    get: gets.map((s, i) => s * (getCpu[i]! + gridCpu.get[i]!)),
    repair: repairs.map((s, i) => s * (repairCpu[i]! + gridCpu.repair[i]!))
  }
  const mainRun = { get: median(mainThread.get.map(t => t.run)), repair: median(mainThread.repair.map(t => t.run)) }
  // A keeper's round spends at most an interval's share of the hourly budget, each copy once.
  const roundsPerDay = 86_400_000 / KEEPER_INTERVAL_MS
  const auditsPerDay = Math.min(KEEPER_AUDITS_PER_HOUR * 24, a.copiesPerGiB * roundsPerDay)
  const result = {
    size: opts.size, runs: opts.runs, policy: `RS(${k}, ${m})`, farmers: FARMERS, link: opts.link ?? 'loopback',
    get_mbps: round(getMbps), repair_rebuilt_mbps: round(rebuiltMbps), repair_walk_mbps: round(walkMbps),
    repair_vs_get: round(walkMbps / getMbps, 2), rebuilt_vs_get: round(rebuiltMbps / getMbps, 2),
    get_s: round(getS, 2), repair_s: round(repairS, 2), rebuilt_bytes: rebuilt,
    get_s_runs: gets.map(s => round(s, 2)), repair_s_runs: repairs.map(s => round(s, 2)),
    pair_ratios: repairs.map((r, i) => round(gets[i]! / r, 2)),
    cli_cpu_get: round(median(getCpu), 2), cli_cpu_repair: round(median(repairCpu), 2),
    grid_cpu_get: round(median(gridCpu.get), 2), grid_cpu_repair: round(median(gridCpu.repair), 2),
    cli_main_run_get_s: round(mainRun.get, 2), cli_main_run_repair_s: round(mainRun.repair, 2),
    cli_main_wait_get_s: round(median(mainThread.get.map(t => t.wait)), 2), cli_main_wait_repair_s: round(median(mainThread.repair.map(t => t.wait)), 2),
    cpu_s_get: round(median(cpuS.get), 2), cpu_s_repair: round(median(cpuS.repair), 2),
    // The same comparison on the CLI's main thread's time on a core alone: what is left of the gap
    // once waiting for a core (the grid on the same machine) is taken out.
    repair_vs_get_on_core: round(mainRun.get / mainRun.repair, 2),
    audit_single: { bytes: one.bytes, wall_ms: one.ms, auditor_cpu_ms: one.auditorCpuMs, farmer_cpu_ms: one.farmerCpuMs },
    audit: {
      bytes: a.bytes, wall_ms: a.ms, auditor_cpu_ms: a.auditorCpuMs, farmer_cpu_ms: a.farmerCpuMs, shard_bytes: a.shard,
      copies_per_gib: a.copiesPerGiB, audits_per_gib_day: auditsPerDay,
      mb_per_gib_day: round(auditsPerDay * a.bytes / 1e6), cpu_s_per_gib_day: round(auditsPerDay * (a.auditorCpuMs + a.farmerCpuMs) / 1000),
      minutes_between_audits_of_a_copy: round(a.copiesPerGiB / auditsPerDay * 1440)
    }
  }
  printTable(['figure', 'median', 'runs'], [
    ['get MB/s (file bytes)', getMbps.toFixed(1), gets.map(s => (opts.size / 1e6 / s).toFixed(1)).join(', ')],
    ['repair MB/s (fragment bytes rebuilt)', rebuiltMbps.toFixed(1), repairs.map((s, i) => (rebuiltBytes[i]! / 1e6 / s).toFixed(1)).join(', ')],
    ['repair MB/s (file bytes walked)', walkMbps.toFixed(1), repairs.map(s => (opts.size / 1e6 / s).toFixed(1)).join(', ')],
    ['CPU s per s, get / repair: CLI', `${result.cli_cpu_get} / ${result.cli_cpu_repair}`, ''],
    ['CPU s per s, get / repair: grid (relay, farmers)', `${result.grid_cpu_get} / ${result.grid_cpu_repair}`, ''],
    ['CPU s, CLI and grid together, get / repair', `${result.cpu_s_get} / ${result.cpu_s_repair}`,
      cpuS.repair.map((s, i) => `${cpuS.get[i]!.toFixed(2)}/${s.toFixed(2)}`).join(', ')],
    ['CLI main thread s on a core, get / repair', `${result.cli_main_run_get_s} / ${result.cli_main_run_repair_s}`,
      mainThread.repair.map((t, i) => `${mainThread.get[i]!.run.toFixed(2)}/${t.run.toFixed(2)}`).join(', ')],
    ['CLI main thread s waiting for a core, get / repair', `${result.cli_main_wait_get_s} / ${result.cli_main_wait_repair_s}`,
      mainThread.repair.map((t, i) => `${mainThread.get[i]!.wait.toFixed(2)}/${t.wait.toFixed(2)}`).join(', ')]
  ])
  console.log(`repair / get = ${result.repair_vs_get} (file walked; target ≥ 0.8; per run ${result.pair_ratios.join(', ')}), ` +
    `rebuilt bytes / get = ${result.rebuilt_vs_get} (at most m/k = ${round(m / k, 2)} at equal walk rates)`)
  console.log(`repair / get on the CLI main thread's time on a core = ${result.repair_vs_get_on_core} (the time it waited for one, ` +
    `while the grid on the same cores took its share, left out)`)
  printTable(['keeper audit, per copy', 'bytes', 'wall ms', 'auditor CPU ms', 'farmer CPU ms'], [
    [`one ${round(a.shard / 2 ** 20, 2)} MiB fragment a stream`, String(one.bytes), String(one.ms), String(one.auditorCpuMs), String(one.farmerCpuMs)],
    [`up to ${MAX_AUDIT_BATCH} of one farmer a stream (the keeper)`, String(a.bytes), String(a.ms), String(a.auditorCpuMs), String(a.farmerCpuMs)]
  ])
  console.log(`a GiB kept alone at the default budget (${KEEPER_AUDITS_PER_HOUR}/h): ${auditsPerDay} audits a day over ${a.copiesPerGiB} fragment copies ` +
    `(each every ${result.audit.minutes_between_audits_of_a_copy} min): ${result.audit.mb_per_gib_day} MB on the wire and ${result.audit.cpu_s_per_gib_day} CPU s a day`)
  if (opts.json) console.log(JSON.stringify(result))
} finally {
  await Promise.all(children.slice(1).map(async c => await stopChild(c)))
  if (children[0] !== undefined) await stopChild(children[0])
  await lan?.destroy()
  await rm(root, { recursive: true, force: true })
}

/** The owner (this run's client home) deletes m fragments of every segment at all their holders. */
async function damage (link: string, home: string): Promise<{ fragments: number, bytes: number }> {
  const cap = parseCapability(link)
  const owned = (await new OwnerIndex(nodeKeyValueStore(home)).list()).find(f => f.manifestId === cap.manifestId)
  if (owned === undefined) throw new Error('the put left no owner index entry')
  const owner = await ownerKeyFromSeed(fromBase64(owned.ownerSeed))
  const session = await openNodeClient(relayAddrOf(), { home })
  try {
    const { manifest, resolve } = await fetchVerifyManifest(session, cap)
    let fragments = 0
    let bytes = 0
    for (const seg of manifest.segments) {
      // m of the k + m fragments, data and parity alike (a different mix every segment).
      const order = seg.fragments.map((_, i) => i).sort(() => Math.random() - 0.5).slice(0, m)
      for (const i of order) {
        for (const h of seg.holders[i] ?? []) await session.transport.delete(resolve(h), seg.fragments[i]!, owner)
        fragments++
        bytes += seg.shardLength
      }
    }
    return { fragments, bytes }
  } finally {
    await session.close()
  }
}

/**
 * The keeper's audits of this file's fragments, per copy: bytes, wall and CPU, over 40 copies
 * audited one per stream, then 40 audited in batches of up to 8 copies of one farmer per stream
 * (`proveCopies`, as the keeper audits).
 */
async function auditCost (link: string, home: string, farmerPids: number[]): Promise<{ single: AuditCost, batched: AuditCost }> {
  const session = await openNodeClient(relayAddrOf(), { home })
  try {
    const { manifest, resolve } = await fetchVerifyManifest(session, parseCapability(link))
    const auditor = new AuditClient(session.libp2p)
    const copies = manifest.segments.flatMap(seg => seg.fragments.map((id, i) => ({ ref: resolve(seg.holders[i]![0]!), id, root: seg.roots![i]!, size: seg.shardLength })))
    const shard = manifest.segments[0]!.shardLength
    const copiesPerGiB = Math.ceil(GiB / (shard * k)) * (k + m)
    // Only copies still where the manifest lists them first (the repairs moved some): proofs are measured.
    const held: typeof copies = []
    for (const c of copies) if ((await auditor.audit(c.ref, c).catch(() => undefined))?.verdict === 'proven') held.push(c)
    const measure = async (groups: Array<typeof copies>): Promise<AuditCost> => {
      const walls: number[] = []
      let bytes = 0
      let n = 0
      const farmerCpu = cpuMeter(farmerPids)
      const c0 = process.cpuUsage()
      for (const group of groups) {
        if (n >= 40) break
        const t0 = performance.now()
        const outcomes = group.length === 1
          ? [await auditor.audit(group[0]!.ref, group[0]!).catch((e: Error) => e)]
          : await auditor.auditMany(group[0]!.ref, group).catch(() => [])
        const proven = outcomes.filter(o => !(o instanceof Error) && o.verdict === 'proven') as Array<{ bytes: number }>
        if (proven.length === 0) continue
        walls.push((performance.now() - t0) / group.length)
        for (const o of proven) bytes += o.bytes
        n += proven.length
      }
      const cpu = process.cpuUsage(c0)
      return {
        bytes: Math.round(bytes / n), ms: round(median(walls)), auditorCpuMs: round((cpu.user + cpu.system) / 1000 / n, 2),
        farmerCpuMs: round(farmerCpu() * 1000 / n, 2), shard, copiesPerGiB
      }
    }
    const single = await measure(held.map(c => [c]))
    const byFarmer = new Map<string, typeof copies>()
    for (const c of held) byFarmer.set(c.ref.peerId, [...byFarmer.get(c.ref.peerId) ?? [], c])
    const batches = [...byFarmer.values()].flatMap(list => Array.from({ length: Math.ceil(list.length / MAX_AUDIT_BATCH) }, (_, i) => list.slice(i * MAX_AUDIT_BATCH, (i + 1) * MAX_AUDIT_BATCH)))
    return { single, batched: await measure(batches) }
  } finally {
    await session.close()
  }
}

function relayAddrOf (): string {
  return children[0]!.addr
}

/** Seconds a thread spent on a core, and waiting for one. */
interface Sched { run: number, wait: number }

/**
 * Runs the CLI to its end: wall seconds, CPU seconds per wall second of the CLI (worker threads
 * included) and of the grid's processes `gridPids`, and its main thread's time on a core and
 * waiting for one.
 */
async function cli (args: string[], env: NodeJS.ProcessEnv, gridPids: number[] = []): Promise<{ seconds: number, cpu: number, gridCpu: number, main: Sched, stdout: string }> {
  const gridSeconds = cpuMeter(gridPids)
  const t0 = performance.now()
  const argv = [process.execPath, BIN, ...args]
  const options = { env, stdio: ['ignore', 'pipe', 'pipe'] as Array<'ignore' | 'pipe'> }
  const child = client === undefined ? spawn(argv[0]!, argv.slice(1), options) : lan!.spawn(client, argv, options)
  let stdout = ''
  let stderr = ''
  child.stdout!.on('data', (b: Buffer) => { stdout += b.toString() })
  child.stderr!.on('data', (b: Buffer) => { stderr = (stderr + b.toString()).slice(-4000) })
  let ticks = 0
  let main: Sched = { run: 0, wait: 0 }
  const timer = setInterval(() => { // /proc is gone once it exits: the last sample stands
    ticks = Math.max(ticks, cpuTicks(child.pid!))
    const now = threadSched(child.pid!)
    if (now.run >= main.run) main = now
  }, 50)
  const code = await new Promise<number | null>(resolve => { child.once('exit', c => { resolve(c) }) })
  clearInterval(timer)
  const seconds = (performance.now() - t0) / 1000
  if (code !== 0) throw new Error(`shardfarm ${args[0]} exited ${code}: ${stderr}`)
  return { seconds, cpu: ticks / CLK_TCK / seconds, gridCpu: gridSeconds() / seconds, main, stdout }
}

/** Waits until the relay's directory lists every farmer. */
async function waitListed (): Promise<void> {
  const session = await openNodeClient(relayAddrOf(), { home: join(root, 'probe') })
  try {
    const until = Date.now() + 60_000
    while (Date.now() < until) {
      if ((await session.directory.list().catch(() => [])).length >= FARMERS) return
      await new Promise(resolve => setTimeout(resolve, 500))
    }
    throw new Error(`the relay's directory never listed ${FARMERS} farmers`)
  } finally {
    await session.close()
  }
}

async function writeRandomFile (path: string, size: number): Promise<string> {
  const hash = createHash('sha256')
  const fh = await open(path, 'w')
  try {
    for (let at = 0; at < size; at += 16 << 20) {
      const buf = randomBytes(Math.min(16 << 20, size - at))
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

function parseArgs (argv: string[]): { json: boolean, size: number, runs: number, k: number, m: number, link?: string } {
  const out: { json: boolean, size: number, runs: number, k: number, m: number, link?: string } = { json: false, size: 64 * 2 ** 20, runs: 3, k: 4, m: 2 }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === '--json') out.json = true
    else if (a === '--size') out.size = parseSize('size', argv[++i] ?? '')
    else if (a === '--runs') out.runs = Number(argv[++i])
    else if (a === '--k') out.k = Number(argv[++i])
    else if (a === '--m') out.m = Number(argv[++i])
    else if (a === '--link') { out.link = argv[++i] ?? ''; parseRate(out.link) }
    else throw new Error(`Unknown argument ${a}; use --json, --size 64MiB, --runs N, --k K, --m M and --link RATE`)
  }
  if (!Number.isInteger(out.runs) || out.runs < 1) throw new Error('--runs needs a positive integer')
  if (!Number.isInteger(out.k) || !Number.isInteger(out.m) || out.k < 1 || out.m < 1 || out.k + out.m > 32) throw new Error('--k and --m need 1 ≤ k, 1 ≤ m, k + m ≤ 32')
  return out
}
