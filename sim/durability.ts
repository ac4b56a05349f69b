// The durability model, rerunnable: for each policy, the seeded simulator (a grid of full and
// light farmers over years) beside the Markov chain (for losses rarer than simulation can see).
// Prints a table; with --json the last line of stdout is one JSON object with every figure.
// Progress goes to stderr. See docs/durability.md for the model and its assumptions.
// Usage: node sim/durability.ts [--policies live,archive,mixed,16+8,4+2+3@5] [--seed N]
//   [--years N] [--farmers N] [--light-farmers N] [--segments N] [--mttf MONTHS] [--shape S]
//   [--threshold MARGIN] [--audit H] [--grace H] [--delay H] [--outages PER_YEAR]
//   [--outage-hours H] [--online FRACTION] [--membership WEEKS] [--correlated PER_YEAR]
//   [--correlated-share S] [--warmup YEARS] [--analytic-only] [--json]
import { parseArgs } from 'node:util'
import { policyFigures, type PolicyFigures } from '../src/core/durability/figures.ts'
import { DurabilityModelError, normalizeParams, parseModelPolicy, type ModelParams } from '../src/core/durability/params.ts'
import { simulate } from '../src/core/durability/simulator.ts'

const OPTIONS = {
  policies: { type: 'string', default: 'live,archive,mixed' },
  seed: { type: 'string', default: '1' },
  years: { type: 'string', default: '20' },
  farmers: { type: 'string', default: '300' },
  'light-farmers': { type: 'string', default: '300' },
  segments: { type: 'string', default: '2000' },
  warmup: { type: 'string', default: '1' },
  'analytic-only': { type: 'boolean', default: false },
  mttf: { type: 'string' },
  shape: { type: 'string' },
  threshold: { type: 'string' },
  audit: { type: 'string' },
  grace: { type: 'string' },
  delay: { type: 'string' },
  outages: { type: 'string' },
  'outage-hours': { type: 'string' },
  online: { type: 'string' },
  membership: { type: 'string' },
  correlated: { type: 'string' },
  'correlated-share': { type: 'string' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', default: false }
} as const

function number (name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined
  const v = Number(text)
  if (text.trim() === '' || !Number.isFinite(v)) throw new DurabilityModelError(`--${name} needs a number, got "${text.slice(0, 20)}"`)
  return v
}

function main (): void {
  const { values: v } = parseArgs({ args: process.argv.slice(2), options: OPTIONS, strict: true })
  if (v.help) {
    console.log('node sim/durability.ts [--policies live,archive,mixed,16+8,4+2+3@5] [--seed N] [--years N] [--farmers N] [--light-farmers N] [--segments N] [--mttf MONTHS] [--shape S] [--threshold MARGIN] [--audit H] [--grace H] [--delay H] [--outages PER_YEAR] [--outage-hours H] [--online FRACTION] [--membership WEEKS] [--correlated PER_YEAR] [--correlated-share S] [--warmup YEARS] [--analytic-only] [--json]')
    return
  }
  const given: Partial<ModelParams> = {
    mttfMonths: number('mttf', v.mttf),
    weibullShape: number('shape', v.shape),
    auditIntervalHours: number('audit', v.audit),
    gracePeriodHours: number('grace', v.grace),
    repairDelayHours: number('delay', v.delay),
    outagesPerYear: number('outages', v.outages),
    outageMeanHours: number('outage-hours', v['outage-hours']),
    lightOnlineFraction: number('online', v.online),
    lightMembershipWeeks: number('membership', v.membership),
    correlatedPerYear: number('correlated', v.correlated),
    correlatedShare: number('correlated-share', v['correlated-share'])
  }
  const params = normalizeParams(Object.fromEntries(Object.entries(given).filter(([, x]) => x !== undefined)))
  const margin = number('threshold', v.threshold)
  const policies = v.policies.split(',').filter(s => s.length > 0).slice(0, 32).map(s => parseModelPolicy(s.trim(), margin))
  const run = {
    seed: number('seed', v.seed)!,
    years: number('years', v.years)!,
    fullFarmers: number('farmers', v.farmers)!,
    lightFarmers: number('light-farmers', v['light-farmers'])!,
    segments: number('segments', v.segments)!,
    warmupYears: number('warmup', v.warmup)!
  }
  const results: PolicyFigures[] = []
  for (const policy of policies) {
    if (v['analytic-only']) { results.push(policyFigures(policy, params)); continue }
    const t0 = performance.now()
    const sim = simulate(policy, params, {
      ...run,
      onProgress: f => { if (f >= 0.1 && Math.round(f * 100) % 10 === 0) process.stderr.write(`${policy.name}: ${Math.round(f * 100)} %\r`) }
    })
    process.stderr.write(`${policy.name}: done in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`)
    results.push(policyFigures(policy, params, sim))
  }
  printTable(results)
  if (v.json) console.log(JSON.stringify({ params, run, policies: results }))
}

function printTable (rows: PolicyFigures[]): void {
  const head = ['policy', 'repair at', 'exp.', 'exp. full', 'nines/GiB-yr (chain)', 'nines/GiB-yr (sim)', 'losses', 'unavail.', 'repair GB/TB·mo']
  const cells = rows.map(r => [
    r.policy,
    String(r.threshold),
    r.expansion.toFixed(2),
    r.expansionFull.toFixed(2),
    r.analytic.ninesPerGiBYear.toFixed(1),
    r.simulated === undefined ? '–' : (r.simulated.ninesPerGiBYearAtLeast ? '≥ ' : '') + r.simulated.ninesPerGiBYear.toFixed(1),
    r.simulated === undefined ? '–' : String(r.simulated.losses),
    r.simulated === undefined ? '–' : r.simulated.unavailability.toExponential(1),
    r.simulated === undefined ? '–' : r.simulated.repairGBPerTBMonth.toFixed(0)
  ])
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map(c => c[i]!.length)))
  const line = (c: string[]): string => c.map((x, i) => i === 0 ? x.padEnd(widths[i]!) : x.padStart(widths[i]!)).join('  ')
  console.log(line(head))
  console.log(widths.map(w => '─'.repeat(w)).join('  '))
  for (const c of cells) console.log(line(c))
}

try {
  main()
} catch (err) {
  const e = err as Error
  console.error(`${e.name}: ${e.message}`)
  process.exitCode = e.name === 'DurabilityModelError' || String((err as { code?: unknown }).code).startsWith('ERR_PARSE_ARGS') ? 2 : 1
}
