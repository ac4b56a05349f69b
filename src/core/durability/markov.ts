import { solveLinear } from './linear.ts'
import { DurabilityModelError } from './params.ts'

/**
 * The analytic model: a continuous-time Markov chain per segment over the number of live
 * fragments on full farmers, for losses far rarer than a simulation can see.
 *
 * State i = k … n live fragments (n = k + m); k − 1 is data loss, absorbing. From state i:
 *   - each fragment fails at rate λ = 1 / MTTF:               i → i − 1 at rate i·λ;
 *   - a correlated event (rate ρ) takes each of the segment's farmers with probability s:
 *                                                             i → i − j at rate ρ·C(i, j)·s^j·(1 − s)^(i − j);
 *   - the keeper, once the segment is at or below its threshold t, repairs it (rebuilding every
 *     missing fragment) at rate μ = 1 / (mean repair time):   i → n at rate μ, for i ≤ t < n.
 * The mean time to data loss from n solves (−Q_TT)·T = 1 over the transient states.
 */
export interface ChainInput {
  /** Fragments needed. */
  k: number
  /** Fragments placed (on full farmers). */
  n: number
  /** Repair starts at or below this many live fragments. */
  threshold: number
  /** λ, per fragment per year. */
  failurePerYear: number
  /** μ = 1 / mean repair time (detection + delay + transfer), per year. */
  repairPerYear: number
  /** ρ, correlated events per year. @default 0 */
  correlatedPerYear?: number
  /** s, the share of farmers one correlated event takes. @default 0 */
  correlatedShare?: number
}

/** One transition of the chain: to state `to` (below k is loss) at `rate` per year. */
export interface Transition { to: number, rate: number }

/** The chain's transitions out of each state i = k … n, at index i − k. */
export function chainTransitions (c: ChainInput): Transition[][] {
  const { k, n, threshold: t, failurePerYear: lam, repairPerYear: mu } = c
  const rho = c.correlatedPerYear ?? 0
  const s = c.correlatedShare ?? 0
  if (!(Number.isInteger(k) && Number.isInteger(n) && k >= 1 && n > k && n <= 256)) throw new DurabilityModelError(`chain needs integers 1 ≤ k < n ≤ 256, got k = ${k}, n = ${n}`)
  if (!(Number.isInteger(t) && t >= k && t < n)) throw new DurabilityModelError(`threshold must be in [k, n − 1], got ${t}`)
  if (!(lam > 0 && mu >= 0 && rho >= 0 && s >= 0 && s < 1)) throw new DurabilityModelError('rates must be ≥ 0 (λ > 0) and the correlated share in [0, 1)')
  const out: Transition[][] = []
  for (let i = k; i <= n; i++) {
    const from: Transition[] = [{ to: i - 1, rate: i * lam }]
    if (rho > 0 && s > 0) {
      // Binomial(i, s) of its farmers taken at once; j = 0 changes nothing.
      let pj = Math.pow(1 - s, i)
      for (let j = 1; j <= i; j++) {
        pj *= (i - j + 1) / j * s / (1 - s)
        if (pj > 0) from.push({ to: Math.max(i - j, k - 1), rate: rho * pj })
      }
    }
    if (i <= t && mu > 0) from.push({ to: n, rate: mu })
    out.push(from)
  }
  return out
}

/**
 * Mean time to data loss, in years, of a segment that starts with all n fragments.
 *
 * Solved by regeneration at n: every failure only lowers the state and every repair returns to n,
 * so with n taken as the renewal point the system over k … n − 1 is triangular. For each state,
 * h = P(loss before the next return to n) and e = expected time until that return or loss follow
 * from the states below by back substitution; all terms are sums of positive numbers, so rarity
 * costs no precision (a dense solve of the same chain loses it all past about 1e-15). By Wald's
 * identity, MTTDL = e(n) / h(n).
 */
export function meanTimeToLossYears (c: ChainInput): number {
  const { k, n } = c
  const trans = chainTransitions(c)
  const h = new Float64Array(n - k + 1)
  const e = new Float64Array(n - k + 1)
  for (let i = k; i <= n; i++) {
    let q = 0
    let hs = 0
    let es = 1
    for (const { to, rate } of trans[i - k]!) {
      q += rate
      if (to < k) hs += rate
      else if (to < i) { hs += rate * h[to - k]!; es += rate * e[to - k]! }
      // to === n: a repair, the renewal point; it adds nothing to h or e.
    }
    h[i - k] = hs / q
    e[i - k] = es / q
  }
  return e[n - k]! / h[n - k]!
}

/** The same mean time to loss by a dense linear solve of (−Q_TT)·T = 1: a check for small chains. */
export function meanTimeToLossDense (c: ChainInput): number {
  const { k, n } = c
  const trans = chainTransitions(c)
  const size = n - k + 1
  const a = new Float64Array(size * size)
  for (let i = k; i <= n; i++) {
    const r = i - k
    for (const { to, rate } of trans[r]!) {
      a[r * size + r] = a[r * size + r]! + rate
      if (to >= k) a[r * size + (to - k)] = a[r * size + (to - k)]! - rate
    }
  }
  return solveLinear(a, new Float64Array(size).fill(1), size)[size - 1]!
}

/**
 * The same chain without correlated events, in closed form (one excursion from n either returns
 * to n by a repair or ends in loss; by Wald's identity MTTDL = E[excursion] / P(loss)). Every term
 * is a product of positive numbers, so it keeps full precision at any rarity; the tests hold the
 * linear solve to it.
 */
export function meanTimeToLossClosedForm (c: ChainInput): number {
  const { k, n, threshold: t, failurePerYear: lam, repairPerYear: mu } = c
  let time = 0
  for (let i = t + 1; i <= n; i++) time += 1 / (i * lam)
  let reach = 1 // probability of reaching state i during an excursion
  for (let i = t; i >= k; i--) {
    time += reach / (i * lam + mu)
    reach *= (i * lam) / (i * lam + mu)
  }
  return time / reach
}

/** Probability of at least one loss in `years` for a process losing at rate 1 / MTTDL. */
export function lossProbability (mttdlYears: number, years = 1): number {
  return -Math.expm1(-years / mttdlYears)
}

/** Nines of a probability of loss: −log10(p). */
export function nines (p: number): number {
  return p <= 0 ? Infinity : -Math.log10(p)
}

/**
 * Loss probability for `units` independent segments, each losing with probability p: a GiB of
 * data is 1024 / (k · shard MiB) segments. Computed as −expm1(units · log1p(−p)) so that 1e-15 stays exact.
 */
export function lossOfMany (p: number, units: number): number {
  return -Math.expm1(units * Math.log1p(-p))
}

/**
 * Loss probability of a segment over one window with no repair, when the fragments lost in the
 * window are Poisson with mean p·n (p: the share of farmers gone per window): the chance that
 * more than n − k are lost. This is the model of the Storj whitepaper's durability tables (v3,
 * §3.4); the tail is summed directly, so a loss of 1e-20 keeps its digits.
 */
export function poissonWindowLoss (k: number, n: number, churn: number): number {
  if (!(Number.isInteger(k) && Number.isInteger(n) && k >= 1 && n >= k && churn >= 0)) throw new DurabilityModelError('poissonWindowLoss needs integers 1 ≤ k ≤ n and churn ≥ 0')
  const mean = churn * n
  const first = n - k + 1
  // e^−λ λ^i / i! at i = first, in logs so that large n does not overflow.
  let logTerm = -mean + first * Math.log(mean)
  for (let i = 2; i <= first; i++) logTerm -= Math.log(i)
  let term = Math.exp(logTerm)
  let sum = 0
  for (let i = first; term > sum * 1e-18 || i < first + 10; i++) {
    sum += term
    term *= mean / (i + 1)
    if (i > first + 10_000) break
  }
  return sum
}
