/**
 * The relay's admission table: when it first saw each farmer's peer id, and from which subnet, with
 * the signed admission every listing carries (`src/net/protocols/directory-admission.ts`).
 *
 * Unlike listings, this table is persisted (in the relay's `state` store): if a restart forgot it,
 * every farmer would be new again and placement would have nobody vetted to give manifests to. It
 * is bounded: past `maxEntries` the peer id heard from longest ago is forgotten (a farmer gone for
 * good, or one identity of a flood), never one that keeps announcing. Writes are batched: a change
 * marks the table dirty and it is saved at most once per `saveEveryMs`, and at `stop()`.
 */
import type { PrivateKey } from '@libp2p/interface'
import { encodeJson, loadJson, type KeyValueStore } from '../src/core/key-value-store.ts'
import { signAdmission, type Admission } from '../src/net/protocols/directory-admission.ts'
import type { AdmissionIssuer } from '../src/net/protocols/directory.ts'

/** Default vetting period: a farmer is new for its first day. */
export const DEFAULT_VETTING_PERIOD_MS = 24 * 3_600_000
/** Default bound on remembered peer ids: twice the directory's, ~2 MB on disk at most. */
export const ADMISSIONS_MAX_ENTRIES = 20_000
/** Default pause between saves of a changed table. */
export const ADMISSIONS_SAVE_EVERY_MS = 2_000
/** Where the table lives in the relay's state store. */
export const ADMISSIONS_KEY = ['directory', 'admissions'] as const

/** Options of `AdmissionBook`. */
export interface AdmissionBookInit {
  /** The relay's libp2p key: admissions are checked against its peer id. */
  key: PrivateKey
  /** Where the table is persisted. @default not persisted (tests) */
  store?: KeyValueStore
  /** How long after its first announce a farmer counts as new. @default DEFAULT_VETTING_PERIOD_MS */
  vettingPeriodMs?: number
  /** Peer ids remembered at most. @default ADMISSIONS_MAX_ENTRIES */
  maxEntries?: number
  /** Pause between saves. @default ADMISSIONS_SAVE_EVERY_MS */
  saveEveryMs?: number
  /** Clock. @default Date.now */
  now?: () => number
  /** Told when a save fails (the next change tries again). @default ignore */
  onError?: (err: Error) => void
}

interface Seen { firstSeen: number, subnet: string, signed?: Admission }

/** The admission table; implements the directory service's `AdmissionIssuer`. */
export class AdmissionBook implements AdmissionIssuer {
  readonly vettingPeriodMs: number
  readonly #init: AdmissionBookInit
  readonly #max: number
  readonly #now: () => number
  /** In order of last announce, oldest first: the first key is the next one forgotten. */
  readonly #seen = new Map<string, Seen>()
  #dirty = false
  #timer: ReturnType<typeof setTimeout> | undefined
  #saving: Promise<void> = Promise.resolve()

  private constructor (init: AdmissionBookInit) {
    this.#init = init
    this.vettingPeriodMs = init.vettingPeriodMs ?? DEFAULT_VETTING_PERIOD_MS
    this.#max = init.maxEntries ?? ADMISSIONS_MAX_ENTRIES
    this.#now = init.now ?? Date.now
  }

  /** Opens the table kept in `init.store` (an empty one when there is none, or it is unreadable). */
  static async open (init: AdmissionBookInit): Promise<AdmissionBook> {
    const book = new AdmissionBook(init)
    const rows = init.store === undefined ? undefined : await loadJson<unknown>(init.store, ADMISSIONS_KEY)
    if (Array.isArray(rows)) {
      for (const row of rows.slice(-book.#max)) {
        if (!Array.isArray(row)) continue
        const [peerId, firstSeen, subnet] = row as unknown[]
        if (typeof peerId === 'string' && peerId.length <= 128 && Number.isSafeInteger(firstSeen) && (firstSeen as number) >= 0 &&
          typeof subnet === 'string' && subnet.length <= 48) book.#seen.set(peerId, { firstSeen: firstSeen as number, subnet })
      }
    }
    return book
  }

  /** Peer ids remembered. */
  get size (): number {
    return this.#seen.size
  }

  /** When `peerId` was first seen, if it is remembered. */
  firstSeen (peerId: string): number | undefined {
    return this.#seen.get(peerId)?.firstSeen
  }

  /** @inheritDoc */
  async prepare (peerId: string, subnet: string): Promise<Admission> {
    const held = this.#seen.get(peerId)
    if (held?.signed !== undefined && held.subnet === subnet) return held.signed
    const firstSeen = held?.firstSeen ?? this.#now()
    return await signAdmission(this.#init.key, peerId, { firstSeen, subnet, vettedAt: firstSeen + this.vettingPeriodMs })
  }

  /** @inheritDoc */
  commit (peerId: string, admission: Admission): void {
    const held = this.#seen.get(peerId)
    // Two first announces racing: the earlier record stands, and the next heartbeat lists it.
    if (held !== undefined && held.firstSeen < admission.firstSeen) {
      this.#seen.delete(peerId)
      this.#seen.set(peerId, held)
      return
    }
    if (held === undefined || held.subnet !== admission.subnet || held.firstSeen !== admission.firstSeen) this.#changed()
    this.#seen.delete(peerId)
    this.#seen.set(peerId, { firstSeen: admission.firstSeen, subnet: admission.subnet, signed: admission })
    while (this.#seen.size > this.#max) this.#seen.delete(this.#seen.keys().next().value!)
  }

  /** Saves a pending change now and stops the save timer. */
  async stop (): Promise<void> {
    clearTimeout(this.#timer)
    this.#timer = undefined
    await this.#save()
  }

  #changed (): void {
    this.#dirty = true
    if (this.#init.store === undefined || this.#timer !== undefined) return
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      void this.#save()
    }, this.#init.saveEveryMs ?? ADMISSIONS_SAVE_EVERY_MS)
    this.#timer.unref()
  }

  async #save (): Promise<void> {
    const store = this.#init.store
    this.#saving = this.#saving.then(async () => {
      if (!this.#dirty || store === undefined) return
      this.#dirty = false
      const rows = [...this.#seen].map(([id, s]) => [id, s.firstSeen, s.subnet])
      try {
        await store.save(ADMISSIONS_KEY, encodeJson(rows))
      } catch (err) {
        this.#dirty = true
        this.#init.onError?.(err as Error)
      }
    })
    await this.#saving
  }
}
