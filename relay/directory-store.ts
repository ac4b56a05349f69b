/**
 * The relay's farmer directory, in memory. Listings are not persisted on purpose: farmers
 * re-announce every TTL/3, so a restarted relay is complete again within one heartbeat period, and
 * a disk copy would only serve farmers that may be gone. (What must survive a restart, when each
 * farmer was first seen, is `AdmissionBook`'s, in `admissions.ts`.)
 */
import { DirectoryError } from '../src/net/protocols/directory.ts'
import type { Admission } from '../src/net/protocols/directory-admission.ts'
import type {
  AnnounceSource, DirectoryFilter, DirectoryRegistry, FarmerListing, FarmerRecord, SignedFarmerRecord
} from '../src/net/protocols/directory.ts'
import { DEFAULT_QUERY_LIMIT } from '../src/net/protocols/directory.ts'

/** Default entry lifetime without a heartbeat: 3 × the farmers' default 10 s heartbeat. */
export const DIRECTORY_TTL_MS = 30_000
/** Default bound on entries, so a flood of fresh peer ids cannot exhaust the relay's memory. */
export const DIRECTORY_MAX_ENTRIES = 10_000
/**
 * Announces one listed farmer may make: a bucket of `burst`, refilled at one per `refillMs`. A
 * heartbeat of 1 s (the test grids') fits; a peer hammering the relay's signature checks does not.
 */
export const PEER_ANNOUNCE_LIMIT = { burst: 4, refillMs: 1_000 }
/**
 * New peer ids (not listed now) one network (/24, /48) may bring in per window. A local grid starts
 * all its farmers from 127.0.0.1 at once, and tests restart them: 64 a minute lets that through
 * (`shardfarm grid --farmers 14` restarted twice in a minute), while a flood of fresh identities
 * from one network takes minutes instead of seconds to fill pages.
 */
export const SUBNET_NEW_PEER_LIMIT = { max: 64, windowMs: 60_000 }

/** Options of `MemoryDirectoryStore`. */
export interface MemoryDirectoryStoreInit {
  /** Entry lifetime without a heartbeat, in ms. @default DIRECTORY_TTL_MS */
  ttlMs?: number
  /** Most farmers listed at once; more are refused with `DIRECTORY_FULL`. @default DIRECTORY_MAX_ENTRIES */
  maxEntries?: number
  /** Per-farmer announce budget (`Infinity` burst turns it off). @default PEER_ANNOUNCE_LIMIT */
  peerAnnounces?: { burst: number, refillMs: number }
  /** New peer ids per network and window (`Infinity` max turns it off). @default SUBNET_NEW_PEER_LIMIT */
  subnetNewPeers?: { max: number, windowMs: number }
  /** Clock, injectable for tests. @default Date.now */
  now?: () => number
}

interface Entry {
  listing: FarmerListing
  signed: SignedFarmerRecord
  /** Announces the farmer may still make now, and when the bucket was last topped up. */
  tokens: number
  refilled: number
}

/** A `DirectoryRegistry` held in a Map, expiring entries lazily and on a sweep timer. */
export class MemoryDirectoryStore implements DirectoryRegistry {
  /** @inheritDoc */
  readonly ttlMs: number
  readonly #maxEntries: number
  readonly #now: () => number
  readonly #entries = new Map<string, Entry>()
  readonly #peerLimit: { burst: number, refillMs: number }
  readonly #subnetLimit: { max: number, windowMs: number }
  /** Per network, when its recent new peer ids came in (oldest first). */
  readonly #arrivals = new Map<string, number[]>()
  #sweeper: ReturnType<typeof setInterval> | undefined

  constructor (init: MemoryDirectoryStoreInit = {}) {
    this.ttlMs = init.ttlMs ?? DIRECTORY_TTL_MS
    this.#maxEntries = init.maxEntries ?? DIRECTORY_MAX_ENTRIES
    this.#now = init.now ?? Date.now
    this.#peerLimit = init.peerAnnounces ?? PEER_ANNOUNCE_LIMIT
    this.#subnetLimit = init.subnetNewPeers ?? SUBNET_NEW_PEER_LIMIT
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

  /**
   * @inheritDoc
   * Budgets, both refused with `BUSY` and `details.retryAfterMs`: a listed farmer spends one token
   * per announce (refused or not), and a peer id that is not listed counts against its network's
   * new-identity window. Without `source` (records relayed by another relay, tests) no network
   * budget applies.
   */
  upsert (record: FarmerRecord, signed: SignedFarmerRecord, source?: AnnounceSource, admission?: Admission): void {
    const now = this.#now()
    const old = this.#entries.get(record.peerId)
    const live = old !== undefined && old.listing.expiresAt > now
    let tokens = this.#peerLimit.burst - 1
    if (live) {
      const have = Math.min(this.#peerLimit.burst, old.tokens + (now - old.refilled) / this.#peerLimit.refillMs)
      old.refilled = now
      old.tokens = have
      if (have < 1) {
        throw new DirectoryError('BUSY', 'announces too frequent for this farmer', { reason: 'peer', retryAfterMs: Math.ceil((1 - have) * this.#peerLimit.refillMs) })
      }
      // Spent even when the record is then refused as stale: the signature check was paid for.
      tokens = old.tokens = have - 1
    }
    // A replayed or reordered heartbeat must not roll a farmer's figures back.
    if (live && record.seq <= old.listing.seq) {
      throw new DirectoryError('STALE_RECORD', 'record seq is not newer than the one held', { held: old.listing.seq, got: record.seq })
    }
    if (!live && this.#entries.size >= this.#maxEntries) {
      this.sweep()
      if (this.#entries.size >= this.#maxEntries) throw new DirectoryError('DIRECTORY_FULL', 'the directory is full')
    }
    if (!live && source !== undefined) this.#admitNew(source.subnet, now)
    const listing: FarmerListing = { ...record, lastSeen: now, expiresAt: now + this.ttlMs, ...admission }
    this.#entries.set(record.peerId, { listing, signed, tokens, refilled: now })
  }

  /** Counts one new peer id against `subnet`'s window, or throws `BUSY` when the window is full. */
  #admitNew (subnet: string, now: number): void {
    const { max, windowMs } = this.#subnetLimit
    if (max === Infinity) return
    const times = this.#arrivals.get(subnet) ?? []
    while (times.length > 0 && times[0]! <= now - windowMs) times.shift()
    if (times.length >= max) {
      throw new DirectoryError('BUSY', 'too many new farmers from this network', { reason: 'subnet', subnet, retryAfterMs: times[0]! + windowMs - now })
    }
    times.push(now)
    this.#arrivals.set(subnet, times)
  }

  /** @inheritDoc */
  remove (peerId: string): boolean {
    return this.#entries.delete(peerId)
  }

  /**
   * @inheritDoc
   * In peer id order: stable across pages while figures change, and not an order a farmer can buy
   * by claiming free space (placement does its own spreading).
   */
  query (filter: DirectoryFilter): FarmerListing[] {
    const now = this.#now()
    const regions = filter.regions === undefined ? undefined : new Set(filter.regions)
    const out: FarmerListing[] = []
    for (const { listing: l } of this.#entries.values()) {
      if (l.expiresAt <= now) continue
      if (filter.after !== undefined && l.peerId <= filter.after) continue
      if (regions !== undefined && !regions.has(l.region)) continue
      if (filter.tier !== undefined && l.tier !== filter.tier) continue
      if (filter.kind !== undefined && l.kind !== filter.kind) continue
      if (filter.minFree !== undefined && l.free < filter.minFree) continue
      out.push(l)
    }
    out.sort((a, b) => a.peerId < b.peerId ? -1 : a.peerId > b.peerId ? 1 : 0)
    return out.slice(0, filter.limit ?? DEFAULT_QUERY_LIMIT)
  }

  /** The signed records of live entries: what a relay would gossip to its peers. */
  records (): SignedFarmerRecord[] {
    const now = this.#now()
    return [...this.#entries.values()].filter(e => e.listing.expiresAt > now).map(e => e.signed)
  }

  /** Drops expired entries and forgotten arrival windows. */
  sweep (): void {
    const now = this.#now()
    for (const [id, e] of this.#entries) if (e.listing.expiresAt <= now) this.#entries.delete(id)
    for (const [subnet, times] of this.#arrivals) {
      if ((times.at(-1) ?? 0) <= now - this.#subnetLimit.windowMs) this.#arrivals.delete(subnet)
    }
  }
}
