/**
 * A farmer's reputation from the client's own audits: a beta reputation with forgetting, as in
 * Storj's audit scoring. Each audit adds one unit of evidence, to `alpha` when it passed and to
 * `beta` when it failed, after both decay by `LAMBDA`:
 *   alpha' = λ·alpha + [passed]      beta' = λ·beta + [failed]      score = alpha / (alpha + beta)
 * So the score is the share of recent audits passed, "recent" meaning the last 1 / (1 − λ) or so
 * (50 at λ = 0.98): a farmer that fails a fraction f of its audits settles at 1 − f, and one that
 * mended its ways climbs back. A new farmer starts at the prior (`alpha` 1, `beta` 0: score 1, but
 * a single evidence unit, so its first failure halves it); placement vets new farmers by `audits`.
 * Pure: plain values in, plain values out.
 */

/** Decay of earlier evidence per new audit. */
export const LAMBDA = 0.98
/** Prior evidence of a farmer never audited. */
export const PRIOR = { alpha: 1, beta: 0 } as const
/**
 * Below this score a farmer gets no new fragments and its copies do not count toward a segment's
 * health. A farmer missing 10 % of a fragment fails 81 % of 16-leaf challenges and settles near
 * 0.19; an honest farmer's occasional failure (a fragment lost to a disk error) costs it about 0.02.
 */
export const TRUST_THRESHOLD = 0.8

/** What the client remembers about one farmer. */
export interface Reputation {
  /** Decayed evidence of audits passed. */
  alpha: number
  /** Decayed evidence of audits failed. */
  beta: number
  /** Audits recorded, all time. */
  audits: number
  /** When the last audit was recorded, in milliseconds since the epoch (0: never). */
  lastAt: number
}

/** The reputation of a farmer never audited. */
export function newReputation (): Reputation {
  return { alpha: PRIOR.alpha, beta: PRIOR.beta, audits: 0, lastAt: 0 }
}

/** `rep` after one more audit, `passed` or not, at `now`. */
export function record (rep: Reputation, passed: boolean, now = Date.now()): Reputation {
  return {
    alpha: LAMBDA * rep.alpha + (passed ? 1 : 0),
    beta: LAMBDA * rep.beta + (passed ? 0 : 1),
    audits: rep.audits + 1,
    lastAt: now
  }
}

/** The share of recent audits passed, in [0, 1]. */
export function score (rep: Reputation): number {
  const total = rep.alpha + rep.beta
  return total > 0 ? rep.alpha / total : 0
}

/** True when the farmer may get new fragments and its copies count. */
export function trusted (rep: Reputation): boolean {
  return score(rep) >= TRUST_THRESHOLD
}

/** Relative weight of the farmer in random placement: its score when trusted, else 0. */
export function weight (rep: Reputation): number {
  return trusted(rep) ? score(rep) : 0
}

/** True when `v` is a well-formed reputation (as read back from storage). */
export function isReputation (v: unknown): v is Reputation {
  if (typeof v !== 'object' || v === null) return false
  const r = v as Record<string, unknown>
  const finite = (x: unknown): boolean => typeof x === 'number' && Number.isFinite(x) && x >= 0
  return finite(r.alpha) && finite(r.beta) && Number.isSafeInteger(r.audits) && (r.audits as number) >= 0 && finite(r.lastAt)
}
