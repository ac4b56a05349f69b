/**
 * What a keeper keeps between runs, on the key/value port under its data folder: the links it was
 * given (`shardfarm keep`), its own owner key, and per file the copies its repairs placed, the last
 * audit of each copy and the last renewal, and the copies a repair in flight is about to place (its
 * journal); per farmer, since when it has not answered. A restart resumes from here. Every collection has a cap, so a long-lived keeper's memory and disk stay
 * bounded.
 */
import { CapabilityError, parseCapability, type Capability } from '../core/capability.ts'
import { loadJson, saveJson, type KeyValueStore } from '../core/key-value-store.ts'
import { fromBase64, ownerKeyFromSeed, toBase64, type OwnerKey } from '../core/owner-key.ts'
import { parseDelegation, type Delegation } from '../core/delegation.ts'

/** Links a keeper keeps at most (besides the owner index's files). */
export const MAX_KEPT_FILES = 10_000
/** Farmers whose silence a keeper remembers at most (the oldest are forgotten first). */
export const MAX_TRACKED_FARMERS = 10_000
/** Copies a keeper remembers placing per file, at most (several repairs of every fragment). */
export const MAX_COPIES_PER_FILE = 4096
/** Copies a file's repair journal holds at most (intents not yet adopted or withdrawn). */
export const MAX_PENDING_PER_FILE = 4096

const KEPT = ['keeper', 'kept'] as const
const FILES = ['keeper', 'files'] as const
const FARMERS = ['keeper', 'farmers'] as const
const OWNER = ['keeper', 'owner'] as const
const DELEGATE = ['keeper', 'delegate'] as const
const DELEGATIONS = ['keeper', 'delegations'] as const

/** A link given to the keeper with `shardfarm keep`. */
export interface KeptLink {
  /** The link as given (a read or a verify link). */
  link: string
  /** Milliseconds since the epoch. */
  addedAt: number
}

/** One audit's verdict on one copy (`proveCopies`), and when. */
export interface CopyAudit {
  /** Milliseconds since the epoch. */
  at: number
  verdict: 'proven' | 'failed' | 'missing' | 'unreachable'
}

/** What the keeper remembers of one file. */
export interface FileRecord {
  /** Copies the keeper's repairs placed outside the manifest's holders (fragment or manifest id, farmer). */
  copies: Array<{ id: string, peer: string }>
  /** The last audit of each copy, by `${id} ${peer}`. */
  audits: Record<string, CopyAudit>
  /** When the owner's leases were last renewed (ms since the epoch); absent: never by this keeper. */
  renewedAt?: number
  /**
   * The repair journal: copies a repair was about to PUT, saved before the PUT was sent. A repair
   * that returns moves the copies it placed to `copies`; whatever is left here (the keeper was
   * killed mid-repair, or a PUT failed after the farmer may have stored it) is settled on the
   * next round: adopted when its farmer proves it, else its claim is deleted (`journal.ts`).
   */
  pending?: PendingCopy[]
}

/** A copy a repair intended to place, and when it said so. */
export interface PendingCopy {
  id: string
  peer: string
  /** Milliseconds since the epoch. */
  at: number
}

const isPending = (c: Partial<PendingCopy> | null | undefined): c is PendingCopy =>
  typeof c?.id === 'string' && typeof c.peer === 'string' && typeof c.at === 'number'

/** A `FileRecord` from storage, or an empty one when absent or unreadable. */
function asRecord (v: unknown): FileRecord {
  const r = (typeof v === 'object' && v !== null ? v : {}) as Partial<FileRecord>
  const copies = Array.isArray(r.copies) ? r.copies.filter(c => typeof c?.id === 'string' && typeof c.peer === 'string').slice(-MAX_COPIES_PER_FILE) : []
  const audits = typeof r.audits === 'object' && r.audits !== null ? r.audits : {}
  const pending = Array.isArray(r.pending) ? r.pending.filter(isPending).slice(-MAX_PENDING_PER_FILE) : []
  return { copies, audits, ...(typeof r.renewedAt === 'number' ? { renewedAt: r.renewedAt } : {}), ...(pending.length > 0 ? { pending } : {}) }
}

/** The keeper's state over a `KeyValueStore`. */
export class KeeperState {
  readonly #kv: KeyValueStore
  #journaling: Promise<void> = Promise.resolve()

  constructor (kv: KeyValueStore) {
    this.#kv = kv
  }

  /**
   * Adds a link to keep (parsed: a read link, or a verify link with its key). Adding it again
   * keeps the first entry. Throws `CapabilityError` on a link that is not one, or a key-less v1
   * verify link, and `RangeError` past `MAX_KEPT_FILES`.
   */
  async keep (link: string, now = Date.now()): Promise<{ cap: Capability, added: boolean }> {
    const cap = parseCapability(link)
    if (cap.kind === 'verify' && cap.verifyKey === undefined) {
      throw new CapabilityError('a version-1 verify link opens nothing; keep the file with its read link')
    }
    const key = [...KEPT, cap.manifestId]
    if (await this.#kv.load(key) !== undefined) return { cap, added: false }
    if ((await this.#kv.keys(KEPT)).length >= MAX_KEPT_FILES) throw new RangeError(`a keeper keeps at most ${MAX_KEPT_FILES} links`)
    await saveJson(this.#kv, key, { link: link.trim(), addedAt: now } satisfies KeptLink)
    return { cap, added: true }
  }

  /** The kept links, oldest first; unreadable entries are left out. */
  async kept (): Promise<KeptLink[]> {
    const keys = (await this.#kv.keys(KEPT)).filter(k => k.length === 3)
    const all = await Promise.all(keys.map(async k => await loadJson<KeptLink>(this.#kv, k)))
    return all.filter((e): e is KeptLink => typeof e?.link === 'string' && typeof e.addedAt === 'number')
      .sort((a, b) => a.addedAt - b.addedAt)
  }

  /** The record of one file (empty when the keeper has none yet). */
  async file (manifestId: string): Promise<FileRecord> {
    return asRecord(await loadJson(this.#kv, [...FILES, manifestId]))
  }

  /**
   * Journals a copy a repair is about to PUT into `record` and saves the record before returning,
   * so that a keeper killed after the PUT still knows of the claim. Throws `RangeError` when the
   * journal holds `MAX_PENDING_PER_FILE` copies (the repair stops rather than place a copy it
   * could lose track of).
   */
  async journal (manifestId: string, record: FileRecord, copy: { id: string, peer: string }, now = Date.now()): Promise<void> {
    const pending = record.pending ??= []
    if (!pending.some(p => p.id === copy.id && p.peer === copy.peer)) {
      if (pending.length >= MAX_PENDING_PER_FILE) throw new RangeError(`a repair journal holds at most ${MAX_PENDING_PER_FILE} copies`)
      pending.push({ id: copy.id, peer: copy.peer, at: now })
    }
    // One save at a time, each of the record as it is when it runs: two saves racing to their
    // renames could otherwise leave an older journal on disk than one already acknowledged.
    const saved = this.#journaling.then(async () => { await this.saveFile(manifestId, record) })
    this.#journaling = saved.catch(() => {})
    await saved
  }

  async saveFile (manifestId: string, record: FileRecord): Promise<void> {
    await saveJson(this.#kv, [...FILES, manifestId], { ...record, copies: record.copies.slice(-MAX_COPIES_PER_FILE) })
  }

  /** Farmers that stopped answering, with when the keeper first found them silent (ms). */
  async silentFarmers (): Promise<Map<string, number>> {
    const v = await loadJson<Record<string, number>>(this.#kv, FARMERS)
    return new Map(Object.entries(v ?? {}).filter(([, t]) => typeof t === 'number'))
  }

  async saveSilentFarmers (silent: ReadonlyMap<string, number>): Promise<void> {
    const newest = [...silent].sort((a, b) => b[1] - a[1]).slice(0, MAX_TRACKED_FARMERS)
    await saveJson(this.#kv, FARMERS, Object.fromEntries(newest))
  }

  /**
   * The keeper's own owner key, made on first use and kept. Repairs of files it keeps from a
   * verify link alone carry it (the owner's key is not on this machine).
   */
  async ownerKey (): Promise<OwnerKey> {
    const saved = await loadJson<{ seed?: string }>(this.#kv, OWNER)
    if (typeof saved?.seed === 'string') return await ownerKeyFromSeed(fromBase64(saved.seed))
    const seed = crypto.getRandomValues(new Uint8Array(32))
    await saveJson(this.#kv, OWNER, { seed: toBase64(seed) })
    return await ownerKeyFromSeed(seed)
  }

  /**
   * The key owners delegate to (`GET /key`), made on first use and kept. Apart from the keeper's
   * own owner key, so no signature made for the keeper's own claims can pass for a delegated one.
   */
  async delegateKey (): Promise<OwnerKey> {
    const saved = await loadJson<{ seed?: string }>(this.#kv, DELEGATE)
    if (typeof saved?.seed === 'string') return await ownerKeyFromSeed(fromBase64(saved.seed))
    const seed = crypto.getRandomValues(new Uint8Array(32))
    await saveJson(this.#kv, DELEGATE, { seed: toBase64(seed) })
    return await ownerKeyFromSeed(seed)
  }

  /** The owner's delegation for a file, when one was given (checked when given; expiry is the caller's to check). */
  async delegation (manifestId: string): Promise<Delegation | undefined> {
    const v = await loadJson<unknown>(this.#kv, [...DELEGATIONS, manifestId])
    try { return v === undefined ? undefined : parseDelegation(v) } catch { return undefined }
  }

  /** Keeps `d` for a file (one per file: a newer one replaces it). Only for kept files, so bounded by `MAX_KEPT_FILES`. */
  async saveDelegation (manifestId: string, d: Delegation): Promise<void> {
    await saveJson(this.#kv, [...DELEGATIONS, manifestId], d)
  }
}
