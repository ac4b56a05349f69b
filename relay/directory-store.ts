/**
 * The relay's farmer directory, in memory. Listings are not persisted on purpose: a restarted relay
 * pulls the current records from a federation peer (`federation.ts`), else farmers re-announce
 * every TTL/3, and a disk copy would only serve farmers that may be gone. (What must survive a
 * restart, when each farmer was first seen, is `AdmissionBook`'s, in `admissions.ts`.)
 *
 * A record learned from another relay expires at `min(seq, now) + ttl`: `seq` is the farmer's clock
 * when it signed, so a record means the same on every relay however late gossip or sync brought it,
 * and a farmer whose clock runs ahead cannot buy a longer life. One announced over the farmer's own
 * connection expires at `now + ttl` (the connection proves it alive now; on loopback the two differ
 * by the announce's transit time). A leave leaves a tombstone for a TTL, so an older record arriving
 * later by gossip or sync cannot bring the farmer back.
 */
import { DirectoryError } from '../src/net/protocols/directory.ts'
import type { Admission } from '../src/net/protocols/directory-admission.ts'
import type {
  AnnounceSource, DirectoryFilter, DirectoryRegistry, FarmerListing, FarmerRecord, SignedFarmerRecord
} from '../src/net/protocols/directory.ts'
import { DEFAULT_QUERY_LIMIT } from '../src/net/protocols/directory.ts'
import { SortedIds } from './sorted-ids.ts'

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
/**
 * New peer ids one network may bring in per hour, on top of the minute's budget: at 64 a minute a
 * patient flood would still list 3 840 identities an hour; 512 lets a grid of test farmers restart
 * many times, and takes a single network 20 hours to fill a 10 000-entry directory.
 */
export const SUBNET_NEW_PEERS_PER_HOUR = 512

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
  /** New peer ids per network and hour (`Infinity` turns it off). @default the larger of SUBNET_NEW_PEERS_PER_HOUR and `subnetNewPeers.max` */
  subnetNewPeersPerHour?: number
  /** Clock, injectable for tests. @default Date.now */
  now?: () => number
}

/** A held record with what gossip and sync pass on: the admission and who signed it. */
export interface HeldRecord {
  signed: SignedFarmerRecord
  admission?: Admission
  /** Peer id of the relay that signed `admission`. */
  admittedBy?: string
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
  /** The keys of `#entries` in peer id order: queries and sync pages read from it, unsorted work per call. */
  readonly #order = new SortedIds()
  readonly #peerLimit: { burst: number, refillMs: number }
  readonly #subnetLimit: { max: number, windowMs: number }
  /** Per network, when its recent new peer ids came in (oldest first). */
  readonly #arrivals = new Map<string, number[]>()
  /** Per network, new peer ids in the current hour (count, window start): the slow budget. */
  readonly #hourly = new Map<string, { count: number, since: number }>()
  readonly #hourLimit: number
  /** Leaves: peer id → seq and expiry, in insertion order (capped like entries). */
  readonly #tombstones = new Map<string, { seq: number, expiresAt: number }>()
  #sweeper: ReturnType<typeof setInterval> | undefined

  constructor (init: MemoryDirectoryStoreInit = {}) {
    this.ttlMs = init.ttlMs ?? DIRECTORY_TTL_MS
    this.#maxEntries = init.maxEntries ?? DIRECTORY_MAX_ENTRIES
    this.#now = init.now ?? Date.now
    this.#peerLimit = init.peerAnnounces ?? PEER_ANNOUNCE_LIMIT
    this.#subnetLimit = init.subnetNewPeers ?? SUBNET_NEW_PEER_LIMIT
    // Never tighter than the minute's budget unless set: turning that off (large test grids, floods on
    // purpose) or raising it raises the hour's too.
    this.#hourLimit = init.subnetNewPeersPerHour ?? Math.max(SUBNET_NEW_PEERS_PER_HOUR, this.#subnetLimit.max)
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

  /** Leaves held (each refuses older records for a TTL). */
  get tombstones (): number {
    return this.#tombstones.size
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
   * new-identity windows (a minute's and an hour's). Without `source` (records learned from another
   * relay, tests) no network budget applies. Refuses with `STALE_RECORD` a record whose seq is not
   * above the one held (or a leave's), or that expired already (`seq + ttl` is past).
   */
  upsert (record: FarmerRecord, signed: SignedFarmerRecord, source?: AnnounceSource, admission?: Admission, admittedBy?: string): void {
    this.#put(record, signed, source, admission, admittedBy, false)
  }

  /**
   * @inheritDoc
   * What `upsert` would refuse before anything costly is done for `record` (the dial-back): a seq
   * not above the one held, or a new identity over its network's windows. Changes nothing.
   */
  precheck (record: FarmerRecord, source?: AnnounceSource): void {
    const now = this.#now()
    const old = this.#entries.get(record.peerId)
    const live = old !== undefined && old.listing.expiresAt > now
    if (live && record.seq <= old.listing.seq) {
      throw new DirectoryError('STALE_RECORD', 'record seq is not newer than the one held', { held: old.listing.seq, got: record.seq })
    }
    const gone = this.#tombstones.get(record.peerId)
    if (gone !== undefined && gone.expiresAt > now && record.seq <= gone.seq) {
      throw new DirectoryError('STALE_RECORD', 'record seq is not newer than the farmer\'s leave', { held: gone.seq, got: record.seq })
    }
    if (!live && source !== undefined) this.#admitNew(source.subnet, now, false)
  }

  /**
   * A record another relay passed on (gossip, sync): checked for seq and expiry like an announce,
   * but spending no announce tokens, since the relay that admitted it paced the farmer already and
   * a farmer announcing to two relays reaches each one twice. Expires at `min(seq, now) + ttl`, and
   * is refused with `STALE_RECORD` when that is past.
   */
  learn (record: FarmerRecord, signed: SignedFarmerRecord, admission?: Admission, admittedBy?: string): void {
    this.#put(record, signed, undefined, admission, admittedBy, true)
  }

  #put (record: FarmerRecord, signed: SignedFarmerRecord, source: AnnounceSource | undefined, admission: Admission | undefined, admittedBy: string | undefined, relayed: boolean): void {
    const now = this.#now()
    const old = this.#entries.get(record.peerId)
    const live = old !== undefined && old.listing.expiresAt > now
    let tokens = live ? old.tokens : this.#peerLimit.burst - 1
    if (live && !relayed) {
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
    const gone = this.#tombstones.get(record.peerId)
    if (gone !== undefined && gone.expiresAt > now && record.seq <= gone.seq) {
      throw new DirectoryError('STALE_RECORD', 'record seq is not newer than the farmer\'s leave', { held: gone.seq, got: record.seq })
    }
    // An announce over the farmer's own connection proves it alive now; a record passed on by a relay
    // proves only that the farmer signed it at `seq`.
    const expiresAt = relayed ? Math.min(record.seq, now) + this.ttlMs : now + this.ttlMs
    if (expiresAt <= now) throw new DirectoryError('STALE_RECORD', 'record expired: seq + ttl is past (is the farmer\'s clock right?)', { got: record.seq })
    if (!live && this.#entries.size >= this.#maxEntries) {
      this.sweep()
      if (this.#entries.size >= this.#maxEntries) throw new DirectoryError('DIRECTORY_FULL', 'the directory is full')
    }
    if (!live && source !== undefined) this.#admitNew(source.subnet, now)
    this.#tombstones.delete(record.peerId)
    const listing: FarmerListing = { ...record, lastSeen: now, expiresAt, ...admission, ...(admission !== undefined && admittedBy !== undefined ? { admittedBy } : {}) }
    if (old === undefined) this.#order.add(record.peerId)
    this.#entries.set(record.peerId, { listing, signed, tokens, refilled: live && relayed ? old.refilled : now })
  }

  /** The seq held for `peerId` (a live record's or a leave's), or undefined: what gossip must beat. */
  heldSeq (peerId: string): number | undefined {
    const now = this.#now()
    const e = this.#entries.get(peerId)
    if (e !== undefined && e.listing.expiresAt > now) return e.listing.seq
    const t = this.#tombstones.get(peerId)
    return t !== undefined && t.expiresAt > now ? t.seq : undefined
  }

  /** Who signed the admission of `peerId`'s live listing, if anyone. */
  admittedBy (peerId: string): string | undefined {
    return this.#entries.get(peerId)?.listing.admittedBy
  }

  /**
   * Records a farmer-signed leave with seq `seq`: the listing goes, and a tombstone refuses records
   * not newer for a TTL. False (nothing changes) when what is held is as new
   * (`orEqual`: newer; a relay's withdrawal names the very seq it withdraws).
   */
  tombstone (peerId: string, seq: number, orEqual = false): boolean {
    const now = this.#now()
    const held = this.heldSeq(peerId)
    if (held !== undefined && (orEqual ? seq < held : seq <= held)) return false
    // Held a full TTL from now: it only ever refuses records older than itself, so keeping it long is harmless.
    const expiresAt = now + this.ttlMs
    this.#delete(peerId)
    this.#tombstones.delete(peerId)
    this.#tombstones.set(peerId, { seq, expiresAt })
    while (this.#tombstones.size > this.#maxEntries) this.#tombstones.delete(this.#tombstones.keys().next().value!)
    return true
  }

  /** Counts a new identity from `subnet` against its windows (only checks them when `count` is false); `BUSY` when full. */
  #admitNew (subnet: string, now: number, count = true): void {
    const { max, windowMs } = this.#subnetLimit
    if (max === Infinity) return
    const times = this.#arrivals.get(subnet) ?? []
    while (times.length > 0 && times[0]! <= now - windowMs) times.shift()
    if (times.length >= max) {
      throw new DirectoryError('BUSY', 'too many new farmers from this network', { reason: 'subnet', subnet, retryAfterMs: times[0]! + windowMs - now })
    }
    const hour = this.#hourly.get(subnet)
    const inHour = hour !== undefined && hour.since > now - 3_600_000 ? hour : { count: 0, since: now }
    if (inHour.count >= this.#hourLimit) {
      throw new DirectoryError('BUSY', 'too many new farmers from this network this hour', { reason: 'subnet', subnet, retryAfterMs: inHour.since + 3_600_000 - now })
    }
    if (!count) return
    inHour.count++
    this.#hourly.set(subnet, inHour)
    times.push(now)
    this.#arrivals.set(subnet, times)
  }

  /** @inheritDoc */
  remove (peerId: string): boolean {
    return this.#delete(peerId)
  }

  #delete (peerId: string): boolean {
    if (!this.#entries.delete(peerId)) return false
    this.#order.delete(peerId)
    return true
  }

  /**
   * @inheritDoc
   * In peer id order: stable across pages while figures change, and not an order a farmer can buy
   * by claiming free space (placement does its own spreading).
   */
  query (filter: DirectoryFilter): FarmerListing[] {
    const now = this.#now()
    const regions = filter.regions === undefined ? undefined : new Set(filter.regions)
    const limit = filter.limit ?? DEFAULT_QUERY_LIMIT
    const out: FarmerListing[] = []
    for (const id of this.#order.after(filter.after)) {
      if (out.length >= limit) break
      const l = this.#entries.get(id)!.listing
      if (l.expiresAt <= now) continue
      if (regions !== undefined && !regions.has(l.region)) continue
      if (filter.tier !== undefined && l.tier !== filter.tier) continue
      if (filter.kind !== undefined && l.kind !== filter.kind) continue
      if (filter.minFree !== undefined && l.free < filter.minFree) continue
      out.push(l)
    }
    return out
  }

  /** The signed records of live entries: what a relay would gossip to its peers. */
  records (): SignedFarmerRecord[] {
    const now = this.#now()
    return [...this.#entries.values()].filter(e => e.listing.expiresAt > now).map(e => e.signed)
  }

  /**
   * Up to `limit` live records with peer ids after `after`, in peer id order, with their admissions:
   * one page of a sync (`federation.ts`).
   */
  held (after: string | undefined, limit: number): Array<HeldRecord & { peerId: string }> {
    const now = this.#now()
    const out: Array<HeldRecord & { peerId: string }> = []
    for (const peerId of this.#order.after(after)) {
      if (out.length >= limit) break
      const e = this.#entries.get(peerId)!
      if (e.listing.expiresAt <= now) continue
      const l = e.listing
      const admission = l.admission === undefined ? undefined : { firstSeen: l.firstSeen!, subnet: l.subnet!, vettedAt: l.vettedAt!, admission: l.admission }
      out.push({ peerId, signed: e.signed, ...(admission !== undefined ? { admission } : {}), ...(l.admittedBy !== undefined ? { admittedBy: l.admittedBy } : {}) })
    }
    return out
  }

  /** Drops expired entries and forgotten arrival windows. */
  sweep (): void {
    const now = this.#now()
    for (const [id, e] of this.#entries) if (e.listing.expiresAt <= now) this.#delete(id)
    for (const [id, t] of this.#tombstones) if (t.expiresAt <= now) this.#tombstones.delete(id)
    for (const [subnet, h] of this.#hourly) if (h.since <= now - 3_600_000) this.#hourly.delete(subnet)
    for (const [subnet, times] of this.#arrivals) {
      if ((times.at(-1) ?? 0) <= now - this.#subnetLimit.windowMs) this.#arrivals.delete(subnet)
    }
  }
}
