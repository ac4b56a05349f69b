/**
 * The owner's file index: the files put from this machine or browser, each with the owner seed
 * that alone can delete or repair it (it never leaves the index). The CLI keeps it on disk, the app
 * in IndexedDB; both through a `KeyValueStore`, one key per file: `['files', manifestId]`, JSON.
 *
 * One key per file, not one list: two uploads finishing at once (two CLI processes, two tabs)
 * each write their own key, where rewriting one shared list let the later writer drop the other's
 * entry, and with it the only owner key of that file.
 */
import { loadJson, saveJson } from '../core/key-value-store.ts'
import type { KeyValueStore } from '../core/key-value-store.ts'

/** Where the index lives in its store. */
export const OWNER_INDEX_PREFIX = ['files'] as const

/** A copy that a repair placed on a farmer outside the manifest's holders (see `RepairResult.placed`). */
export interface FileCopy {
  /** Fragment id, or the manifest id for a manifest copy. */
  id: string
  /** Peer id of the farmer holding it. */
  peer: string
}

/** A file put from here. */
export interface OwnedFile {
  /** 64 lowercase hex characters; the file's key in the index. */
  manifestId: string
  /** The file's name when it was put. */
  name: string
  /** Plaintext bytes. */
  size: number
  /** The read link (`shardfarm:r2:…`, or `r1:` for files stored before verify links). */
  link: string
  /** The storage policy's name. */
  policy: string
  /** Base64 seed of the owner key: the right to delete and repair. */
  ownerSeed: string
  /** Milliseconds since the epoch (the manifest's `createdAt`). */
  createdAt: number
  /** Where repairs put copies, so that a delete reaches them. */
  copies?: FileCopy[]
}

const isString = (v: unknown): v is string => typeof v === 'string'
const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0

/** `value` as an `OwnedFile`, or undefined when it is not one (another format, a torn write). */
function asOwnedFile (value: unknown): OwnedFile | undefined {
  if (typeof value !== 'object' || value === null) return undefined
  const f = value as Partial<OwnedFile>
  if (!isString(f.manifestId) || !/^[0-9a-f]{64}$/.test(f.manifestId)) return undefined
  if (!isString(f.name) || !isCount(f.size) || !isString(f.link) || !isString(f.policy) || !isString(f.ownerSeed) || !isCount(f.createdAt)) return undefined
  const copies = f.copies
  if (copies !== undefined && !(Array.isArray(copies) && copies.every(c => isString(c?.id) && isString(c?.peer)))) return undefined
  const file: OwnedFile = { manifestId: f.manifestId, name: f.name, size: f.size, link: f.link, policy: f.policy, ownerSeed: f.ownerSeed, createdAt: f.createdAt }
  if (copies !== undefined) file.copies = copies.map(({ id, peer }) => ({ id, peer }))
  return file
}

/** The index of files put from here, over a `KeyValueStore`. */
export class OwnerIndex {
  readonly #kv: KeyValueStore
  /** Read-modify-writes (`addCopies`) run one after another, so none is lost to another's. */
  #updates: Promise<unknown> = Promise.resolve()

  /** The index kept in `kv` (under `OWNER_INDEX_PREFIX`). */
  constructor (kv: KeyValueStore) {
    this.#kv = kv
  }

  /** Every file in the index, oldest first (the order they were put). Unreadable entries are left out. */
  async list (): Promise<OwnedFile[]> {
    const keys = (await this.#kv.keys(OWNER_INDEX_PREFIX)).filter(k => k.length === 2)
    const files = await Promise.all(keys.map(async k => asOwnedFile(await loadJson(this.#kv, k))))
    return files
      .filter((f, i): f is OwnedFile => f !== undefined && f.manifestId === keys[i]![1])
      .sort((a, b) => a.createdAt - b.createdAt || (a.manifestId < b.manifestId ? -1 : 1))
  }

  /** The file with this manifest id, or undefined when it was not put from here (or was removed). */
  async find (manifestId: string): Promise<OwnedFile | undefined> {
    const file = asOwnedFile(await loadJson(this.#kv, this.#key(manifestId)))
    return file?.manifestId === manifestId ? file : undefined
  }

  /** Adds `file`, replacing any entry with its manifest id. Throws `TypeError` on a malformed one. */
  async add (file: OwnedFile): Promise<void> {
    const checked = asOwnedFile(file)
    if (checked === undefined) throw new TypeError('Not an owner index entry')
    await saveJson(this.#kv, this.#key(checked.manifestId), checked)
  }

  /** Forgets the file (and its owner key). Removing one that is absent succeeds. */
  async remove (manifestId: string): Promise<void> {
    await this.#kv.remove(this.#key(manifestId))
  }

  /**
   * Records where a repair put copies of the file's fragments or manifest, so that a delete reaches
   * them too; copies already recorded are not added twice. Returns the updated entry, or undefined
   * when the file is not in the index.
   */
  async addCopies (manifestId: string, copies: readonly FileCopy[]): Promise<OwnedFile | undefined> {
    const update = this.#updates.then(async () => {
      const file = await this.find(manifestId)
      if (file === undefined) return undefined
      const all = [...file.copies ?? []]
      for (const c of copies) if (!all.some(x => x.id === c.id && x.peer === c.peer)) all.push({ id: c.id, peer: c.peer })
      const updated = { ...file, copies: all }
      await this.add(updated)
      return updated
    })
    this.#updates = update.catch(() => {})
    return await update
  }

  /**
   * Adds the entries of an older index format (a JSON array of entries, or IndexedDB records of the
   * same shape) that are not in the index yet; a file already indexed keeps its entry, so importing
   * again changes nothing. Entries that are not owner index entries are skipped.
   * @returns how many entries were added
   */
  async importEntries (entries: unknown): Promise<number> {
    if (!Array.isArray(entries)) return 0
    let added = 0
    for (const entry of entries) {
      const file = asOwnedFile(entry)
      if (file === undefined || await this.#kv.load(this.#key(file.manifestId)) !== undefined) continue
      await this.add(file)
      added++
    }
    return added
  }

  #key (manifestId: string): string[] {
    return [...OWNER_INDEX_PREFIX, manifestId]
  }
}
