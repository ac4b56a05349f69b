// Shared helpers for the benchmarks: argument parsing, medians, aligned tables.

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
