/**
 * The farmer's in-flight budgets: what one connection, one peer and all peers together may hold at
 * once. Each is a plain counter against a limit; `take` is all-or-nothing, with no await between the
 * check and the charge, so concurrent streams cannot overshoot together.
 */

/** One counter against a limit. */
export class Budget {
  readonly limit: number
  #used = 0

  constructor (limit: number) {
    this.limit = limit
  }

  get used (): number { return this.#used }

  /** Takes `n` when it fits; false (and nothing taken) when it does not. */
  take (n: number): boolean {
    if (this.#used + n > this.limit) return false
    this.#used += n
    return true
  }

  give (n: number): void {
    this.#used = Math.max(0, this.#used - n)
  }
}

/** One `Budget` per key (a peer, a connection), each with the same limit, forgotten when empty. */
export class KeyedBudget {
  readonly limit: number
  readonly #used = new Map<string, number>()

  constructor (limit: number) {
    this.limit = limit
  }

  used (key: string): number { return this.#used.get(key) ?? 0 }

  take (key: string, n: number): boolean {
    const used = this.used(key)
    if (used + n > this.limit) return false
    this.#used.set(key, used + n)
    return true
  }

  give (key: string, n: number): void {
    const left = this.used(key) - n
    if (left > 0) this.#used.set(key, left)
    else this.#used.delete(key)
  }

  /** Keys holding something now. */
  get size (): number { return this.#used.size }
}

/** Who a stream belongs to: the remote peer and the connection it came on. */
export interface StreamOwner { peer: string, connection: string }

/**
 * Takes `n` from each of `budgets` for its key, or from none of them. Returns the index of the
 * first budget that refused, or -1 when all were taken.
 */
export function takeAll (budgets: Array<[KeyedBudget, string] | [Budget]>, n: number): number {
  for (let i = 0; i < budgets.length; i++) {
    const entry = budgets[i]!
    const ok = entry.length === 1 ? entry[0].take(n) : entry[0].take(entry[1], n)
    if (!ok) {
      for (let j = 0; j < i; j++) giveOne(budgets[j]!, n)
      return i
    }
  }
  return -1
}

/** Gives `n` back to each of `budgets`. */
export function giveAll (budgets: Array<[KeyedBudget, string] | [Budget]>, n: number): void {
  for (const entry of budgets) giveOne(entry, n)
}

function giveOne (entry: [KeyedBudget, string] | [Budget], n: number): void {
  if (entry.length === 1) entry[0].give(n)
  else entry[0].give(entry[1], n)
}
