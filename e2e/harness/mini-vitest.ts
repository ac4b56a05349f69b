/**
 * Just enough of vitest's API to run the shared conformance suites in a browser page, where vitest
 * itself cannot run. The idb-store spec starts a Vite server that aliases 'vitest' to this file.
 *
 * Matchers follow vitest's semantics for the values the suites use (plain objects, arrays, typed
 * arrays, errors). A matcher not implemented here throws when called, so a suite that grows a new
 * one fails loudly instead of passing vacuously.
 */

type Hook = () => unknown
/** The test context; only `skip` is offered. */
export interface TestContext { skip: (note?: string) => never }
type TestBody = (ctx: TestContext) => unknown

interface Case { name: string, body: TestBody, skip: boolean, before: Hook[], after: Hook[] }
interface Scope { name: string, before: Hook[], after: Hook[] }

/** Outcome of `run()`. */
export interface Report {
  passed: number
  failed: number
  skipped: number
  failures: Array<{ name: string, error: string }>
}

const cases: Case[] = []
const scopes: Scope[] = [{ name: '', before: [], after: [] }]
const SKIP = Symbol('skip')

/** Longest one case may take before it counts as failed, so one hang cannot stall the page. */
export const CASE_TIMEOUT = 30_000

export function describe (name: string, body: () => void): void {
  scopes.push({ name, before: [], after: [] })
  try { body() } finally { scopes.pop() }
}

function register (name: string, body: TestBody, skip: boolean): void {
  cases.push({
    name: [...scopes.map(s => s.name).filter(Boolean), name].join(' > '),
    body,
    skip,
    before: scopes.flatMap(s => s.before),
    after: scopes.flatMap(s => s.after).reverse()
  })
}

/** Registers a test case. */
export const it = Object.assign(
  (name: string, body: TestBody): void => { register(name, body, false) },
  { skipIf: (cond: unknown) => (name: string, body: TestBody): void => { register(name, body, Boolean(cond)) } }
)
export const test = it

export function beforeEach (fn: Hook): void { scopes.at(-1)!.before.push(fn) }
export function afterEach (fn: Hook): void { scopes.at(-1)!.after.push(fn) }

/** Number of cases registered so far. */
export function registered (): number { return cases.length }

/** Runs every registered case in order, one at a time, and forgets them. */
export async function run (): Promise<Report> {
  const report: Report = { passed: 0, failed: 0, skipped: 0, failures: [] }
  for (const c of cases.splice(0)) {
    if (c.skip) { report.skipped++; continue }
    const ctx: TestContext = { skip: () => { throw SKIP } }
    let timer: ReturnType<typeof setTimeout> | undefined
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => { reject(new Error(`timed out after ${CASE_TIMEOUT} ms`)) }, CASE_TIMEOUT)
    })
    try {
      for (const h of c.before) await h()
      try {
        await Promise.race([c.body(ctx), timeout])
      } finally {
        for (const h of c.after) await h()
      }
      report.passed++
    } catch (err) {
      if (err === SKIP) { report.skipped++; continue }
      report.failed++
      report.failures.push({ name: c.name, error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) })
    } finally {
      clearTimeout(timer)
    }
  }
  return report
}

// ---- expect -------------------------------------------------------------------------------------

function show (v: unknown): string {
  if (v instanceof Uint8Array) return `Uint8Array(${v.byteLength})`
  if (v instanceof Error) return `${v.name}(${JSON.stringify({ ...v, message: v.message })})`
  try { return JSON.stringify(v) ?? String(v) } catch { return String(v) }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null

/**
 * vitest's `equals`: `toEqual` ignores properties whose value is undefined; `toMatchObject`
 * (`subset`) checks only the expected keys, recursively, but arrays must match in length.
 */
function equals (a: unknown, b: unknown, subset: boolean): boolean {
  if (Object.is(a, b)) return true
  if (!isObject(a) || !isObject(b)) return false
  if (Array.isArray(b) || ArrayBuffer.isView(b)) {
    const x = a as unknown as ArrayLike<unknown>
    const y = b as unknown as ArrayLike<unknown>
    if (Array.isArray(a) !== Array.isArray(b) || x.length !== y.length) return false
    for (let i = 0; i < y.length; i++) if (!equals(x[i], y[i], subset)) return false
    return true
  }
  const defined = (o: Record<string, unknown>): string[] => Object.keys(o).filter(k => o[k] !== undefined)
  if (subset) return Object.keys(b).every(k => (k in a || b[k] === undefined) && equals(a[k], b[k], true))
  const ka = defined(a)
  const kb = defined(b)
  return ka.length === kb.length && kb.every(k => equals(a[k], b[k], false))
}

function matchers (actual: unknown): Record<string, (expected?: unknown) => void> {
  const check = (ok: boolean, what: string, ...expected: unknown[]): void => {
    if (!ok) throw new Error(`expected ${show(actual)} ${what}${expected.map(e => ` ${show(e)}`).join('')}`)
  }
  return {
    toBe: e => { check(Object.is(actual, e), 'to be', e) },
    toEqual: e => { check(equals(actual, e, false), 'to equal', e) },
    toMatchObject: e => { check(equals(actual, e, true), 'to match object', e) },
    toBeUndefined: () => { check(actual === undefined, 'to be undefined') },
    toBeDefined: () => { check(actual !== undefined, 'to be defined') },
    toBeInstanceOf: e => { check(actual instanceof (e as new () => unknown), `to be an instance of ${(e as { name: string }).name}`) },
    toHaveLength: e => { check((actual as { length?: unknown } | null)?.length === e, 'to have length', e) },
    toBeGreaterThanOrEqual: e => { check((actual as number) >= (e as number), 'to be >=', e) },
    toBeLessThanOrEqual: e => { check((actual as number) <= (e as number), 'to be <=', e) }
  }
}

/** `expect(actual).matcher(expected)`; unknown matchers throw. */
export function expect (actual: unknown): Record<string, (expected?: unknown) => void> {
  const known = matchers(actual)
  return new Proxy(known, {
    get (target, key) {
      if (typeof key === 'string' && key in target) return target[key]
      throw new Error(`mini-vitest does not implement expect().${String(key)}`)
    }
  })
}
