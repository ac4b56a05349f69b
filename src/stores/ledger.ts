import type { ClaimsUpdate, FragmentClaim, FragmentEntry, FragmentId, StoredFragmentMeta, StoreStat } from '../core/fragment-store.ts'
import { checkClaims, QuotaExceededError } from '../core/fragment-store.ts'
import { throwIfAborted } from '../core/errors.ts'

/** What the ledger remembers of one fragment: its size and its metadata. */
export type LedgerEntry = StoredFragmentMeta

/**
 * The bookkeeping every persistent `FragmentStore` adapter shares, whatever it writes to: which ids
 * it holds, their sizes and claims (rebuilt from the medium when the store opens), an exact quota,
 * and one operation at a time per id. Claims live here too so that the farmer's accounting and its
 * lease collector never read the medium; each adapter writes them through before updating this.
 */
export class StoreLedger {
  readonly quota: number
  readonly #index: Map<FragmentId, LedgerEntry>
  /** Per-id queue: put, delete and quarantine of one id never interleave. */
  readonly #locks = new Map<FragmentId, Promise<unknown>>()
  #used: number
  /** Bytes promised to puts in flight; counted against the quota before their first await. */
  #reserved = 0

  constructor (quota: number, index = new Map<FragmentId, LedgerEntry>()) {
    this.quota = quota
    this.#index = index
    this.#used = [...index.values()].reduce((a, b) => a + b.size, 0)
  }

  has (id: FragmentId): boolean {
    return this.#index.has(id)
  }

  /** Payload bytes of `id`, if held. */
  size (id: FragmentId): number | undefined {
    return this.#index.get(id)?.size
  }

  /** A copy of the metadata of `id`, if held. */
  meta (id: FragmentId): StoredFragmentMeta | undefined {
    const e = this.#index.get(id)
    return e === undefined ? undefined : { claims: e.claims.map(c => ({ ...c })), storedAt: e.storedAt, size: e.size }
  }

  /** Records the claims of `id` (already written to the medium). */
  setClaims (id: FragmentId, claims: FragmentClaim[]): void {
    const e = this.#index.get(id)
    if (e !== undefined) e.claims = claims
  }

  /** Every fragment held, from a snapshot of the index taken when iteration starts (`FragmentStore.list`). */
  async * entries (signal?: AbortSignal): AsyncGenerator<FragmentEntry> {
    for (const [id, e] of [...this.#index]) {
      throwIfAborted(signal)
      yield { id, size: e.size, claims: e.claims.map(c => ({ ...c })) }
    }
  }

  /**
   * `FragmentStore.updateClaims` for every persistent adapter; call it inside `exclusive(id)`. The
   * checked new claims are written through `persist` before they are recorded here; with none left,
   * the fragment goes through `remove`. Undefined when `id` is not held.
   */
  async updateClaims (id: FragmentId, update: ClaimsUpdate, medium: {
    remove: () => Promise<void>
    persist: (claims: FragmentClaim[], held: StoredFragmentMeta) => Promise<void>
  }): Promise<FragmentClaim[] | undefined> {
    const held = this.meta(id)
    if (held === undefined) return undefined
    const claims = checkClaims(id, update(held.claims))
    if (claims.length === 0) {
      await medium.remove()
      return []
    }
    await medium.persist(claims, held)
    this.setClaims(id, claims)
    return claims.map(c => ({ ...c }))
  }

  /** Runs `fn` after every earlier operation on `id` has finished. */
  async exclusive<T> (id: FragmentId, fn: () => Promise<T>): Promise<T> {
    const previous = this.#locks.get(id) ?? Promise.resolve()
    const run = previous.then(fn)
    const tail = run.catch(() => {})
    this.#locks.set(id, tail)
    try {
      return await run
    } finally {
      if (this.#locks.get(id) === tail) this.#locks.delete(id)
    }
  }

  /**
   * Stores `bytes` bytes under `id` through `write`, holding a reservation while it runs. Call it
   * inside `exclusive(id)`, and only for an id not held (a re-put merges claims instead); a put
   * that would pass the quota throws `QuotaExceededError` before writing anything.
   */
  async admit (id: FragmentId, bytes: number, meta: StoredFragmentMeta, write: () => Promise<void>): Promise<void> {
    if (this.#index.has(id)) throw new Error('admit of an id already held')
    // Check and reserve with no await in between: that is what keeps concurrent puts of
    // different ids from overshooting the quota together.
    const committed = this.#used + this.#reserved
    if (committed + bytes > this.quota) throw new QuotaExceededError(this.quota, committed, bytes)
    this.#reserved += bytes
    try {
      await write()
      this.#index.set(id, { size: bytes, claims: meta.claims, storedAt: meta.storedAt })
      this.#used += bytes
    } finally {
      this.#reserved -= bytes
    }
  }

  /** Forgets `id` (deleted, or found corrupt or missing). */
  drop (id: FragmentId): void {
    this.#used -= this.#index.get(id)?.size ?? 0
    this.#index.delete(id)
  }

  stat (): StoreStat {
    const free = Math.max(0, this.quota - this.#used - this.#reserved)
    return { capacity: this.quota, used: this.#used, free, count: this.#index.size }
  }

  /** Resolves when every operation under way has finished (for `close`). */
  async settled (): Promise<void> {
    await Promise.all(this.#locks.values())
  }
}
