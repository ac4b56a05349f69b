/**
 * The client's audit scores of farmers, kept between runs: one `Reputation` (`core/reputation.ts`)
 * per farmer under `['scores', peerId]` in the key/value port. All of it is loaded at `open` and
 * read synchronously after, so placement can weigh every farmer without a round trip to storage.
 * Bounded: past `maxFarmers` the farmer audited least recently is forgotten (it starts again from
 * the prior if it comes back, which the vetting of new farmers covers).
 */
import { checkStorageKey, loadJson, saveJson, type KeyValueStore } from '../core/key-value-store.ts'
import {
  isReputation, newReputation, record, score, trusted, weight, type Reputation
} from '../core/reputation.ts'

/** Where the scores live in the key/value store. */
export const SCORES_PREFIX = 'scores'
/** Farmers remembered at most. @default 10 000 (about 1 MB of JSON) */
export const MAX_SCORED_FARMERS = 10_000

/** Options of `ScoreBook.open`. */
export interface ScoreBookInit {
  /** Farmers remembered at most; the least recently audited go first. @default MAX_SCORED_FARMERS */
  maxFarmers?: number
  /** The clock, for tests. @default Date.now */
  now?: () => number
}

/** One farmer's entry in a snapshot. */
export interface ScoreEntry extends Reputation {
  peer: string
  score: number
  trusted: boolean
}

/** Audit scores of farmers, persisted. */
export class ScoreBook {
  readonly #kv: KeyValueStore
  readonly #max: number
  readonly #now: () => number
  /** Reputations in order of last audit, oldest first (a `Map` keeps insertion order). */
  readonly #reps = new Map<string, Reputation>()
  /**
   * Saves per peer: the one writing, and the one waiting for it to end. A save writes the peer's
   * latest reputation when it starts, so every record made while one waits joins it: a burst of
   * audits of one farmer (a batch proven at once) costs two writes, not one per audit, and a later
   * score never lands before an earlier one.
   */
  readonly #saving = new Map<string, { writing: Promise<void>, next?: Promise<void> }>()

  private constructor (kv: KeyValueStore, init: ScoreBookInit) {
    this.#kv = kv
    this.#max = Math.max(1, init.maxFarmers ?? MAX_SCORED_FARMERS)
    this.#now = init.now ?? Date.now
  }

  /** Loads every score kept in `kv` (malformed entries are dropped). */
  static async open (kv: KeyValueStore, init: ScoreBookInit = {}): Promise<ScoreBook> {
    const book = new ScoreBook(kv, init)
    const loaded: Array<[string, Reputation]> = []
    for (const key of await kv.keys([SCORES_PREFIX])) {
      if (key.length !== 2) continue
      const rep = await loadJson<unknown>(kv, key)
      if (isReputation(rep)) loaded.push([key[1]!, rep])
      else await kv.remove(key)
    }
    loaded.sort((a, b) => a[1].lastAt - b[1].lastAt)
    for (const [peer, rep] of loaded) book.#reps.set(peer, rep)
    await book.#evict()
    return book
  }

  /** Records one audit of `peer` and persists it; returns the new reputation. */
  async record (peer: string, passed: boolean): Promise<Reputation> {
    const key = [SCORES_PREFIX, peer]
    checkStorageKey(key)
    const rep = record(this.#reps.get(peer) ?? newReputation(), passed, this.#now())
    this.#reps.delete(peer)
    this.#reps.set(peer, rep)
    await this.#save(peer, key, rep)
    await this.#evict()
    return rep
  }

  /** Resolves once a save of `peer` that started after this call has written (`rep` if it was forgotten meanwhile). */
  async #save (peer: string, key: string[], rep: Reputation): Promise<void> {
    const write = async (): Promise<void> => { await saveJson(this.#kv, key, this.#reps.get(peer) ?? rep) }
    let state = this.#saving.get(peer)
    if (state?.next !== undefined) { await state.next; return } // not started yet: it writes this record too
    let mine: Promise<void>
    if (state === undefined) {
      mine = write()
      state = { writing: mine }
      this.#saving.set(peer, state)
    } else {
      const s = state
      mine = s.next = s.writing.catch(() => {}).then(async () => {
        s.writing = mine
        s.next = undefined
        await write()
      })
    }
    try {
      await mine
    } finally {
      if (state.writing === mine && state.next === undefined && this.#saving.get(peer) === state) this.#saving.delete(peer)
    }
  }

  /** The reputation of `peer` (the prior when never audited). */
  reputation (peer: string): Reputation {
    return this.#reps.get(peer) ?? newReputation()
  }

  /** Score of `peer` in [0, 1]. */
  score (peer: string): number {
    return score(this.reputation(peer))
  }

  /** True when `peer` may get new fragments and its copies count. */
  trusted (peer: string): boolean {
    return trusted(this.reputation(peer))
  }

  /** Placement weight of `peer` (0 when not trusted). */
  weight (peer: string): number {
    return weight(this.reputation(peer))
  }

  /** Every farmer remembered, least recently audited first. */
  snapshot (): ScoreEntry[] {
    return [...this.#reps].map(([peer, rep]) => ({ peer, ...rep, score: score(rep), trusted: trusted(rep) }))
  }

  /** Farmers remembered now. */
  get size (): number {
    return this.#reps.size
  }

  async #evict (): Promise<void> {
    while (this.#reps.size > this.#max) {
      const oldest = this.#reps.keys().next().value as string
      this.#reps.delete(oldest)
      await this.#kv.remove([SCORES_PREFIX, oldest])
    }
  }
}
