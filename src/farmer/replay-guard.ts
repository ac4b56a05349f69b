/**
 * Remembers delete nonces for as long as their timestamps are acceptable, so one signed delete is
 * honoured once. Entries older than the window can go: a replay of them fails the clock check.
 */

/** Outcome of `ReplayGuard.claim`. */
export type ClaimResult = 'fresh' | 'replayed' | 'full'

/** A bounded set of nonces, each kept until its request's timestamp leaves the skew window. */
export class ReplayGuard {
  readonly #windowMs: number
  readonly #max: number
  /** nonce → time after which a replay would be refused as stale anyway. */
  readonly #seen = new Map<string, number>()

  constructor (windowMs: number, max: number) {
    this.#windowMs = windowMs
    this.#max = max
  }

  /** Records `nonce` of a request stamped `ts`; 'replayed' when seen before, 'full' when at capacity. */
  claim (nonce: string, ts: number, now = Date.now()): ClaimResult {
    const expiry = this.#seen.get(nonce)
    if (expiry !== undefined && expiry > now) return 'replayed'
    if (this.#seen.size >= this.#max) this.#prune(now)
    if (this.#seen.size >= this.#max) return 'full'
    this.#seen.set(nonce, ts + this.#windowMs)
    return 'fresh'
  }

  #prune (now: number): void {
    for (const [nonce, expiry] of this.#seen) if (expiry <= now) this.#seen.delete(nonce)
  }
}
