// Shared helpers for the benchmarks: argument parsing, medians, aligned tables, process CPU time.
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
// @ts-expect-error plain JavaScript without declarations (it runs before any TypeScript loads)
import { freshBundle } from '../bin/cli-bundle.js'

/** Linux USER_HZ: /proc/<pid>/stat times are in 1/100 s. */
export const CLK_TCK = 100

/** utime + stime of a process, all threads, in clock ticks (0 once it is gone). */
export function cpuTicks (pid: number): number {
  try {
    // Synchronous on purpose: sampled on timers, and /proc reads never wait on a disk.
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ')
    return Number(fields[11]) + Number(fields[12]) // fields 14 and 15 of stat(5), counted after the ") "
  } catch { return 0 }
}

/**
 * Seconds thread `tid` of process `pid` (the main thread by default) has spent on a core and
 * waiting in a run queue for one (Linux schedstat); zeros once it is gone. The wait is the time it
 * could have run and a busy machine made it wait.
 */
export function threadSched (pid: number, tid = pid): { run: number, wait: number } {
  try {
    const [run, wait] = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ').map(Number)
    return { run: run! / 1e9, wait: wait! / 1e9 }
  } catch { return { run: 0, wait: 0 } }
}

/** CPU seconds the processes `pids` used together, as a function to call at the end of a phase. */
export function cpuMeter (pids: number[]): () => number {
  const t0 = pids.reduce((n, p) => n + cpuTicks(p), 0)
  return () => (pids.reduce((n, p) => n + cpuTicks(p), 0) - t0) / CLK_TCK
}

/**
 * Writes every dirty page out (`sync`) and returns the seconds it took. Called before each timed
 * phase so that the disk writeback a previous phase left behind (a 1 GiB put leaves about a
 * gigabyte of fragment files dirty, a get its output file) is not done, and paid for in CPU and
 * I/O, during the next one. A phase's own writeback while it runs still counts.
 */
export function settleDisk (): number {
  const t0 = performance.now()
  spawnSync('sync', { stdio: 'ignore' })
  return (performance.now() - t0) / 1000
}

export interface BenchArgs {
  /** Print one JSON object as the last line. */
  json: boolean
  /** Timed runs per figure. */
  runs?: number
}

export function parseBenchArgs (argv: string[]): BenchArgs {
  const out: BenchArgs = { json: false }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === '--json') out.json = true
    else if (a === '--runs') out.runs = Number(argv[++i])
    else throw new Error(`Unknown argument ${a}; use --json and --runs N`)
  }
  if (out.runs !== undefined && !(Number.isInteger(out.runs) && out.runs >= 1)) throw new Error('--runs needs a positive integer')
  return out
}

export function median (xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const mid = s.length >> 1
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}

export function printTable (head: string[], rows: string[][]): void {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map(r => (r[i] ?? '').length)))
  const line = (cells: string[]): string => cells.map((c, i) => i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)).join('  ')
  console.log(line(head))
  console.log(widths.map(w => '─'.repeat(w)).join('  '))
  for (const r of rows) console.log(line(r))
}

/**
 * Builds the CLI bundle (dist-cli/) when it is missing or older than the sources. `shardfarm` runs
 * the sources then, which starts about 0.8 s later: every timed command would pay it, and a ratio of
 * two commands would look better than it is.
 */
export function ensureCliBundle (): void {
  const root = fileURLToPath(new URL('..', import.meta.url))
  let why = ''
  if ((freshBundle as (root: string, dir: undefined, why: (w: string) => void) => string | undefined)(root, undefined, w => { why = w }) !== undefined) return
  process.stderr.write(`bench: building the CLI bundle first (${why})\n`)
  const r = spawnSync(process.execPath, [fileURLToPath(new URL('../scripts/build-cli.ts', import.meta.url))], { stdio: ['ignore', 'ignore', 'inherit'] })
  if (r.status !== 0) throw new Error('building the CLI bundle failed (npm run build:cli)')
}
