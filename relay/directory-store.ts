/**
 * The relay's farmer directory, in memory. Nothing is persisted on purpose: farmers re-announce
 * every TTL/3, so a restarted relay is complete again within one heartbeat period, and a disk copy
 * would only serve farmers that may be gone.
 */
import { DirectoryError } from '../src/net/protocols/directory.ts'
import type {
  DirectoryFilter, DirectoryRegistry, FarmerListing, FarmerRecord, SignedFarmerRecord
} from '../src/net/protocols/directory.ts'
import { DEFAULT_QUERY_LIMIT } from '../src/net/protocols/directory.ts'

/** Default entry lifetime without a heartbeat: 3 × the farmers' default 10 s heartbeat. */
export const DIRECTORY_TTL_MS = 30_000
/** Default bound on entries, so a flood of fresh peer ids cannot exhaust the relay's memory. */
export const DIRECTORY_MAX_ENTRIES = 10_000

/** Options of `MemoryDirectoryStore`. */
export interface MemoryDirectoryStoreInit {
  /** Entry lifetime without a heartbeat, in ms. @default DIRECTORY_TTL_MS */
  ttlMs?: number
  /** Most farmers listed at once; more are refused with `DIRECTORY_FULL`. @default DIRECTORY_MAX_ENTRIES */
  maxEntries?: number
  /** Clock, injectable for tests. @default Date.now */
  now?: () => number
}

interface Entry { listing: FarmerListing, signed: SignedFarmerRecord }

/** A `DirectoryRegistry` held in a Map, expiring entries lazily and on a sweep timer. */
export class MemoryDirectoryStore implements DirectoryRegistry {
  /** @inheritDoc */
  readonly ttlMs: number
  readonly #maxEntries: number
  readonly #now: () => number
  readonly #entries = new Map<string, Entry>()
  #sweeper: ReturnType<typeof setInterval> | undefined

  constructor (init: MemoryDirectoryStoreInit = {}) {
    this.ttlMs = init.ttlMs ?? DIRECTORY_TTL_MS
    this.#maxEntries = init.maxEntries ?? DIRECTORY_MAX_ENTRIES
    this.#now = init.now ?? Date.now
  }

  /** Starts the periodic sweep that frees expired entries even when nobody queries. */
  start (): void {
    this.#sweeper ??= setInterval(() => this.sweep(), Math.max(100, this.ttlMs / 2))
    this.#sweeper.unref()
  }

  /** Stops the sweep. */
  stop (): void {
    clearInterval(this.#sweeper)
    this.#sweeper = undefined
  }

  /** Live entries. */
  get size (): number {
    this.sweep()
    return this.#entries.size
  }

  /** @inheritDoc */
  upsert (record: FarmerRecord, signed: SignedFarmerRecord): void {
    const now = this.#now()
    const old = this.#entries.get(record.peerId)
    const live = old !== undefined && old.listing.expiresAt > now
    // A replayed or reordered heartbeat must not roll a farmer's figures back.
    if (live && record.seq <= old.listing.seq) {
      throw new DirectoryError('STALE_RECORD', 'record seq is not newer than the one held', { held: old.listing.seq, got: record.seq })
    }
    if (!live && this.#entries.size >= this.#maxEntries) {
      this.sweep()
      if (this.#entries.size >= this.#maxEntries) throw new DirectoryError('DIRECTORY_FULL', 'the directory is full')
    }
    this.#entries.set(record.peerId, { listing: { ...record, lastSeen: now, expiresAt: now + this.ttlMs }, signed })
  }

  /** @inheritDoc */
  remove (peerId: string): boolean {
    return this.#entries.delete(peerId)
  }

  /**
   * @inheritDoc
   * Sorted by free space, largest first, then peer id, so answers are stable for equal figures;
   * placement does its own spreading.
   */
  query (filter: DirectoryFilter): FarmerListing[] {
    const now = this.#now()
    const regions = filter.regions === undefined ? undefined : new Set(filter.regions)
    const out: FarmerListing[] = []
    for (const { listing: l } of this.#entries.values()) {
      if (l.expiresAt <= now) continue
      if (regions !== undefined && !regions.has(l.region)) continue
      if (filter.tier !== undefined && l.tier !== filter.tier) continue
      if (filter.kind !== undefined && l.kind !== filter.kind) continue
      if (filter.minFree !== undefined && l.free < filter.minFree) continue
      out.push(l)
    }
    out.sort((a, b) => b.free - a.free || (a.peerId < b.peerId ? -1 : 1))
    return out.slice(0, filter.limit ?? DEFAULT_QUERY_LIMIT)
  }

  /** The signed records of live entries: what a relay would gossip to its peers. */
  records (): SignedFarmerRecord[] {
    const now = this.#now()
    return [...this.#entries.values()].filter(e => e.listing.expiresAt > now).map(e => e.signed)
  }

  /** Drops expired entries. */
  sweep (): void {
    const now = this.#now()
    for (const [id, e] of this.#entries) if (e.listing.expiresAt <= now) this.#entries.delete(id)
  }
}
