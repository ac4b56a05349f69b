/**
 * The farmer directory protocol, `/shardfarm/directory/1.0.0`: farmers (full and light) announce
 * themselves to a relay with a heartbeat, and clients ask the relay which farmers match a policy.
 *
 * Wire: one request per stream. The dialer writes one varint-length-prefixed UTF-8 JSON frame
 * (≤ `MAX_REQUEST_BYTES`), the relay answers with one such frame (≤ `MAX_RESPONSE_BYTES`) and closes.
 *   → `{ op: 'announce', signed: { record, sig } }`   ← `{ ok: true, ttlMs }`
 *   → `{ op: 'leave' }`                               ← `{ ok: true, removed }`
 *   → `{ op: 'query', filter: DirectoryFilter }`       ← `{ ok: true, farmers: FarmerListing[], more?: true, next?: peerId, sharedSubnets?: true }`
 *   ← `{ ok: false, code, message, details? }` for every refusal (codes: `DirectoryErrorCode`; of
 *     `details`, a dialer keeps `reason`, `retryAfterMs` and `index`: a `BUSY` says when to retry).
 *
 * Queries are paged, never refused for size: listings come in peer id order, an answer stops at
 * `filter.limit` listings or `MAX_PAGE_BYTES` of JSON, whichever comes first, and says `more: true`
 * with `next` (the last peer id it holds) when matches remain; the dialer asks again with
 * `filter.after = next`. Peer id order, unlike an order by free space, does not move between pages
 * as heartbeats change figures, and cannot be bought by claiming a large quota.
 * Records hold only addresses a client can dial (`directory-addr.ts`), so a listing, with its
 * admission (below), is at most ~2.8 KiB of JSON and a page of 512 KiB holds 187 of them at worst.
 *
 * Admission: each listing also carries what the relay itself vouches for (`directory-admission.ts`):
 * when it first saw the farmer (`firstSeen`, kept across relay restarts), the subnet its announce
 * came from, when its vetting period ends (`vettedAt`), and the relay's signature over them
 * (`admission`), which a client checks against the relay's peer id. Placement gives new farmers
 * little and never two fragments of a segment on one subnet; a relay for a single-host grid, whose
 * farmers share a subnet on purpose, says so in every page (`sharedSubnets: true`), so clients
 * relax that rule because they were told, never by accident.
 *
 * Identity: the relay takes the farmer's peer id from the Noise-authenticated connection, never
 * from the request. An announce carries a record signed by the farmer's libp2p key, and its
 * `peerId` must equal the connection's peer. Addresses are claims, but harmless ones: every listed
 * address ends in `/p2p/<peer id>`, so a dial to a false address fails the Noise handshake instead
 * of reaching an impostor.
 *
 * Several relays (`relay/federation.ts`, docs/protocol.md "Federation"): relays gossip the
 * farmer-signed records they accept on gossipsub topic `/shardfarm/directory/records/1`, each with
 * the admitting relay's signed admission; a receiver verifies the record against the key inside its
 * own peer id (`openSignedRecord`, no connection needed) and keeps it only when its `seq` is above
 * the one it holds, so replays and stale copies lose. `seq` is the farmer's clock in ms, strictly
 * increasing, so it survives restarts without state. Expiry is `min(seq, now) + ttl` on every relay.
 * Leaving is a farmer-signed tombstone (`{ peerId, seq, gone: true }`, `signFarmerTombstone`), sent
 * as `{ op: 'leave', signed }` and gossiped; a bare `{ op: 'leave' }` still works, and the relay
 * that admitted the farmer then gossips a withdrawal it signs itself. A relay that starts pulls the
 * current records from a peer (`directory-sync.ts`). Queries stay local, answered from memory; the
 * first page of an answer lists the federation's relays (`relays`, at most `MAX_LISTED_RELAYS`), so
 * a client that knows one relay learns the rest, and a listing learned by gossip names the relay
 * whose admission it carries (`admittedBy`), which the client accepts when the answering relay
 * lists it (`verifyFederatedAdmission`).
 */
import { lpStream } from '@libp2p/utils'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Connection, Libp2p, PeerId, PrivateKey, Stream } from '@libp2p/interface'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { ShardfarmError, type AbortOptions } from '../../core/errors.ts'
import { checkAddr, MAX_ADDR_BYTES, MAX_ADDRS, subnetOf } from './directory-addr.ts'
import { toHex } from '../../core/hash.ts'
import { admissionFields, type Admission } from './directory-admission.ts'
import { verifyWithPeerKey, type VerifySignature } from './signature.ts'
import type { FarmerKind, Tier } from '../../core/policy.ts'

/** Versioned protocol id. */
export const DIRECTORY_PROTOCOL = '/shardfarm/directory/1.0.0'
/** Largest request frame: an announce with 8 long addresses fits in under 4 KiB. */
export const MAX_REQUEST_BYTES = 16 * 1024
/** Bytes of listings a relay puts in one answer; the rest goes on later pages. */
export const MAX_PAGE_BYTES = 512 * 1024
/** Largest response frame a dialer reads: twice a page, so a relay's answer never comes near it. */
export const MAX_RESPONSE_BYTES = 2 * MAX_PAGE_BYTES
export { MAX_ADDRS, MAX_ADDR_BYTES }
/** Longest address. */
export const MAX_ADDR_CHARS = MAX_ADDR_BYTES
/** Longest region or version string (printable ASCII). */
export const MAX_LABEL_CHARS = 64
/** Listings per query when the filter sets no limit, and the most it may ask for. */
export const DEFAULT_QUERY_LIMIT = 100
export const MAX_QUERY_LIMIT = 1000
/** Time a whole request/response exchange may take, either side. */
export const DIRECTORY_TIMEOUT_MS = 10_000
/** Relays an answer lists at most, and addresses per relay. */
export const MAX_LISTED_RELAYS = 16
export const MAX_RELAY_ADDRS = 4
/** Signatures cover this prefix plus the record text, so they cannot be replayed in another protocol. */
const SIGNING_DOMAIN = new TextEncoder().encode('shardfarm-directory-record/1:')

export type { FarmerKind, Tier }
/** Codes of a directory refusal, on the wire and in `DirectoryError`. */
export const DIRECTORY_ERROR_CODES = ['BAD_REQUEST', 'TOO_LARGE', 'FORBIDDEN', 'STALE_RECORD', 'DIRECTORY_FULL', 'BUSY', 'INTERNAL', 'UNREACHABLE'] as const
/** One refusal code of the directory protocol. */
export type DirectoryErrorCode = typeof DIRECTORY_ERROR_CODES[number]

/** What a farmer says about itself. Byte figures are fragment payload bytes. */
export interface FarmerRecord {
  /** The farmer's peer id; must be the peer on the connection that announces it. */
  peerId: string
  /**
   * Dialable multiaddrs, each ending in `/p2p/<peerId>` (added when missing); at most `MAX_ADDRS`
   * of at most `MAX_ADDR_BYTES`. Addresses of transports clients do not dial are dropped, malformed
   * ones refuse the record (`directory-addr.ts`).
   */
  addrs: string[]
  region: string
  tier: Tier
  kind: FarmerKind
  /** Quota in bytes. */
  capacity: number
  /** Bytes a new fragment may still take. */
  free: number
  /** Farmer software version. */
  version: string
  /** Farmer's clock in ms when signed; strictly increasing per farmer. */
  seq: number
}

/**
 * A farmer's signed leave: after it, records with a seq not above `seq` are refused until
 * `min(seq, now) + ttl`, on every relay of the federation.
 */
export interface FarmerTombstone { peerId: string, seq: number, gone: true }

/** A relay of the federation as an answer lists it: what a client needs to dial it and check its admissions. */
export interface RelayListing {
  peerId: string
  /** Multiaddrs ending in `/p2p/<peerId>`, at most `MAX_RELAY_ADDRS`. */
  addrs: string[]
}

/** A record as it travels: the exact JSON text that was signed, and the hex Ed25519 signature. */
export interface SignedFarmerRecord { record: string, sig: string }

/**
 * One farmer as a query returns it; it satisfies the client's `Farmer` port type
 * (`src/client/ports.ts`) as is, but only `RelayDirectory` (which checks the admission signature)
 * passes `subnet` and `vettedAt` on to placement.
 */
export interface FarmerListing extends FarmerRecord, Partial<Admission> {
  /**
   * Peer id of the relay that signed the admission, when it is not the answering relay (a listing
   * learned by gossip). Absent: the answering relay signed it.
   */
  admittedBy?: string
  /** Relay clock (ms) when the last heartbeat arrived. */
  lastSeen: number
  /** Relay clock (ms) after which the entry is dropped unless another heartbeat comes. */
  expiresAt: number
}

/** Query filter; every field narrows, and absent fields match everything. */
export interface DirectoryFilter {
  /** Any of these regions. */
  regions?: string[]
  tier?: Tier
  kind?: FarmerKind
  /** At least this many free bytes. */
  minFree?: number
  /** Most listings returned. @default DEFAULT_QUERY_LIMIT */
  limit?: number
  /** Only peer ids after this one (the `next` of the previous page). @default from the first */
  after?: string
}

/** One answer to a query. */
export interface DirectoryPage {
  /** Listings in peer id order. */
  farmers: FarmerListing[]
  /** Matches remain after this page: ask again with `after: next`. */
  more: boolean
  /** The last peer id of this page, when `more`. */
  next?: string
  /** The relay says its farmers share a subnet on purpose (a single-host grid). */
  sharedSubnets: boolean
  /** The federation's relays, itself included (first page only, at most `MAX_LISTED_RELAYS`). */
  relays?: RelayListing[]
}

/** Where an announce comes from, as the relay saw the connection. */
export interface AnnounceSource {
  /** The sender's network (`subnetOf`: /24 for IPv4, /48 for IPv6), for per-network budgets. */
  subnet: string
}

/** Issues the relay's signed admissions (`relay/admissions.ts`); the relay owns the table and its key. */
export interface AdmissionIssuer {
  /** The admission `peerId` gets if its announce is accepted: the one on record, or a new one from now. Records nothing. */
  prepare: (peerId: string, subnet: string) => Promise<Admission>
  /** Records `admission` (once the registry accepted the announce), so a flood that is refused leaves no trace. */
  commit: (peerId: string, admission: Admission) => void
}

/** Where a federated relay hears what its own directory accepted, to gossip it (`relay/federation.ts`). */
export interface DirectoryFederation {
  /** A farmer's announce was accepted, with the admission this relay signed. */
  accepted: (record: FarmerRecord, signed: SignedFarmerRecord, admission?: Admission) => void
  /** A farmer left: with its signed tombstone, or without (a bare leave over its own connection). */
  left: (peerId: string, tombstone?: { seq: number, signed: SignedFarmerRecord }) => void
  /** The federation's relays, this one first, for the first page of answers. */
  relays: () => RelayListing[]
}

/** The directory's memory, injected so the protocol is testable and the relay owns the policy. */
export interface DirectoryRegistry {
  /** How long an entry lives without a heartbeat, in ms; told to farmers so they pace heartbeats. */
  readonly ttlMs: number
  /**
   * Adds or refreshes an entry, listed with `admission` when given. Throws `DirectoryError`
   * `STALE_RECORD`, `DIRECTORY_FULL` or `BUSY` (rate limits).
   */
  upsert: (record: FarmerRecord, signed: SignedFarmerRecord, source?: AnnounceSource, admission?: Admission) => void
  /**
   * Throws what `upsert` would for `record` from `source` (stale, rate limits) without changing
   * anything: run before the costly checks of an announce (the dial-back). Optional.
   */
  precheck?: (record: FarmerRecord, source?: AnnounceSource) => void
  /** Forgets a farmer; false when it was not listed. */
  remove: (peerId: string) => boolean
  /** Records a signed leave with seq `seq` (see `FarmerTombstone`); false when what is held is as new. Optional: without it, a signed leave is a bare one. */
  tombstone?: (peerId: string, seq: number) => boolean
  /** Live entries matching `filter` with peer ids after `filter.after`, in peer id order, at most `filter.limit`. */
  query: (filter: DirectoryFilter) => FarmerListing[]
}

/** A directory refusal, on either side of the wire. Test `err.name === 'DirectoryError'` and `err.code`. */
export class DirectoryError extends ShardfarmError {
  constructor (code: DirectoryErrorCode, message: string, details: Record<string, unknown> = {}) {
    super('DirectoryError', code, message, details)
  }
}

type Request = { op: 'announce', signed: SignedFarmerRecord } | { op: 'leave', signed?: SignedFarmerRecord } | { op: 'query', filter: DirectoryFilter }

/** Signs `record` with the farmer's libp2p key (the one its peer id is made from). */
export async function signFarmerRecord (key: PrivateKey, record: FarmerRecord): Promise<SignedFarmerRecord> {
  const text = JSON.stringify(record)
  const sig = await key.sign(concat(SIGNING_DOMAIN, new TextEncoder().encode(text)))
  return { record: text, sig: toHex(sig) }
}

/** Signs a leave (`FarmerTombstone`) with the farmer's libp2p key; `seq` must be above its last record's. */
export async function signFarmerTombstone (key: PrivateKey, peerId: string, seq: number): Promise<SignedFarmerRecord> {
  return await signFarmerRecord(key, { peerId, seq, gone: true } as unknown as FarmerRecord)
}

/**
 * Verifies a signed record against the key inside its own peer id and validates every field.
 * Needs no connection, so gossiping relays can use it too. Throws `DirectoryError` (also for a
 * tombstone: see `openSignedRecord`).
 */
export async function openFarmerRecord (signed: unknown, verify: VerifySignature = verifyWithPeerKey): Promise<FarmerRecord> {
  const r = await openSignedRecord(signed, verify)
  if ('gone' in r) throw bad('record is a leave, not an announce')
  return r
}

/** `openFarmerRecord` that also opens tombstones (`{ peerId, seq, gone: true }`). Throws `DirectoryError`. */
export async function openSignedRecord (signed: unknown, verify: VerifySignature = verifyWithPeerKey): Promise<FarmerRecord | FarmerTombstone> {
  if (!isObject(signed) || typeof signed.record !== 'string' || typeof signed.sig !== 'string' ||
    !/^[0-9a-f]{128}$/.test(signed.sig)) throw bad('signed must be { record: string, sig: 128 hex chars }')
  if (signed.record.length > MAX_REQUEST_BYTES) throw new DirectoryError('TOO_LARGE', 'record is too long')
  let parsed: unknown
  try { parsed = JSON.parse(signed.record) } catch { throw bad('record is not JSON') }
  const record = isObject(parsed) && parsed.gone !== undefined ? validateTombstone(parsed) : validateRecord(parsed)
  let peer: PeerId
  try { peer = peerIdFromString(record.peerId) } catch { throw bad('peerId is not a peer id') }
  if (peer.publicKey === undefined) throw new DirectoryError('FORBIDDEN', 'peer id must embed its public key (Ed25519)')
  const data = concat(SIGNING_DOMAIN, new TextEncoder().encode(signed.record))
  const sig = Uint8Array.from(signed.sig.match(/../g) ?? [], h => parseInt(h, 16))
  if (!await verify(peer, data, sig)) throw new DirectoryError('FORBIDDEN', 'bad record signature')
  return record
}

/** Options of `DirectoryService`. */
export interface DirectoryServiceInit {
  /** Concurrent directory streams per connection. @default 4 */
  maxInboundStreams?: number
  /** Time a request may take to arrive and be answered. @default DIRECTORY_TIMEOUT_MS */
  timeoutMs?: number
  /** Bytes of listings in one answer. @default MAX_PAGE_BYTES */
  maxPageBytes?: number
  /** Called with every refusal and handler failure, for logs. @default ignore */
  onError?: (err: Error, peer: string) => void
  /** Tell clients the farmers share a subnet on purpose (a single-host grid). @default false */
  sharedSubnets?: boolean
  /**
   * List a full farmer only after dialing it back, on a connection of its own, at an address its
   * record gives (the Noise handshake proves the peer id there): a record naming addresses where
   * nobody, or somebody else, answers is refused (`UNREACHABLE`). Done again when a farmer's
   * addresses change. @default false (the relay turns it on)
   */
  dialBack?: boolean
  /** Time one dial-back may take. @default DIAL_BACK_TIMEOUT_MS */
  dialBackTimeoutMs?: number
  /** Checks record signatures. @default verifyWithPeerKey */
  verify?: VerifySignature
}

/** Time a relay gives one dial-back of a farmer (`DirectoryServiceInit.dialBack`). */
export const DIAL_BACK_TIMEOUT_MS = 4_000
/** Dial-backs in flight at once; an announce beyond them is refused `BUSY`, to be retried. */
export const MAX_DIAL_BACKS = 16
/** Farmers whose reachable addresses a relay remembers (so a heartbeat costs no dial). */
const MAX_REACHED = 100_000

/** The relay side: answers the directory protocol from a `DirectoryRegistry`. */
export class DirectoryService {
  readonly #libp2p: Libp2p
  readonly #registry: DirectoryRegistry
  readonly #admissions: AdmissionIssuer | undefined
  readonly #init: DirectoryServiceInit

  readonly #federation: DirectoryFederation | undefined
  /** Per farmer, the address list (joined) a dial-back last reached it at. */
  readonly #reached = new Map<string, string>()
  #dialing = 0

  /** Without `admissions`, listings carry none, and clients count every farmer as new; without `federation`, nothing is gossiped. */
  constructor (components: { libp2p: Libp2p, registry: DirectoryRegistry, admissions?: AdmissionIssuer, federation?: DirectoryFederation }, init: DirectoryServiceInit = {}) {
    this.#libp2p = components.libp2p
    this.#registry = components.registry
    this.#admissions = components.admissions
    this.#federation = components.federation
    this.#init = init
  }

  /** Registers the protocol handler. */
  async start (): Promise<void> {
    await this.#libp2p.handle(DIRECTORY_PROTOCOL, (stream, conn) => this.#serve(stream, conn), {
      maxInboundStreams: this.#init.maxInboundStreams ?? 4,
      // Light farmers behind the relay reach it over their own direct WebSocket, but browsers that
      // only hold a relayed connection may still query: the frames are tiny.
      runOnLimitedConnection: true
    })
  }

  /** Removes the protocol handler; streams in flight finish on their own timeout. */
  async stop (): Promise<void> {
    await this.#libp2p.unhandle(DIRECTORY_PROTOCOL)
  }

  async #serve (stream: Stream, conn: Connection): Promise<void> {
    const signal = AbortSignal.timeout(this.#init.timeoutMs ?? DIRECTORY_TIMEOUT_MS)
    const lp = lpStream(stream, { maxDataLength: MAX_REQUEST_BYTES })
    let reply: object
    try {
      reply = await this.#answer(await readJson(lp, signal), conn)
    } catch (err) {
      const e = asDirectoryError(err)
      this.#init.onError?.(e.code === 'INTERNAL' ? err as Error : e, conn.remotePeer.toString())
      reply = { ok: false, code: e.code, message: e.message, ...(e.code === 'INTERNAL' ? {} : { details: e.details }) }
    }
    try {
      await lp.write(new TextEncoder().encode(JSON.stringify(reply)), { signal })
      await stream.close({ signal })
    } catch (err) {
      stream.abort(err as Error)
    }
  }

  async #answer (req: unknown, conn: Connection): Promise<object> {
    if (!isObject(req)) throw bad('request must be an object')
    const peer = conn.remotePeer
    switch (req.op) {
      case 'announce': {
        const record = await openFarmerRecord(req.signed, this.#init.verify)
        if (record.peerId !== peer.toString()) throw new DirectoryError('FORBIDDEN', 'record is for another peer than the connection')
        const signed = req.signed as SignedFarmerRecord
        const subnet = subnetOf(conn.remoteAddr)
        if (this.#init.dialBack === true && record.kind === 'full') {
          this.#registry.precheck?.(record, { subnet }) // a refusal that costs nothing comes first
          await this.#dialBack(record)
        }
        const admission = await this.#admissions?.prepare(record.peerId, subnet)
        this.#registry.upsert(record, { record: signed.record, sig: signed.sig }, { subnet }, admission)
        if (admission !== undefined) this.#admissions?.commit(record.peerId, admission)
        this.#federation?.accepted(record, { record: signed.record, sig: signed.sig }, admission)
        return { ok: true, ttlMs: this.#registry.ttlMs }
      }
      case 'leave': {
        if (req.signed === undefined || this.#registry.tombstone === undefined) {
          this.#federation?.left(peer.toString()) // first: the federation withdraws what is still held
          return { ok: true, removed: this.#registry.remove(peer.toString()) }
        }
        const gone = await openSignedRecord(req.signed, this.#init.verify)
        if (!('gone' in gone)) throw bad('a leave carries a tombstone ({ peerId, seq, gone: true })')
        if (gone.peerId !== peer.toString()) throw new DirectoryError('FORBIDDEN', 'record is for another peer than the connection')
        const signed = req.signed as SignedFarmerRecord
        const removed = this.#registry.tombstone(gone.peerId, gone.seq)
        if (removed) this.#federation?.left(gone.peerId, { seq: gone.seq, signed: { record: signed.record, sig: signed.sig } })
        return { ok: true, removed }
      }
      case 'query': return { ok: true, ...this.#page(validateFilter(req.filter ?? {})) }
      default: throw bad('op must be announce, leave or query')
    }
  }

  /**
   * Reaches `record`'s farmer at one of its addresses on a fresh connection, or throws
   * `UNREACHABLE`. The same address list as last time costs nothing.
   */
  async #dialBack (record: FarmerRecord): Promise<void> {
    const key = record.addrs.join(' ')
    if (this.#reached.get(record.peerId) === key) return
    if (this.#dialing >= MAX_DIAL_BACKS) throw new DirectoryError('BUSY', 'too many farmers being dialed back; announce again shortly', { retryAfterMs: 1_000 })
    this.#dialing++
    try {
      const errors: string[] = []
      // One deadline for the whole dial-back (it must end well within the announce's own), and
      // direct addresses only: a full farmer is dialed straight, never through a circuit.
      const signal = AbortSignal.timeout(this.#init.dialBackTimeoutMs ?? DIAL_BACK_TIMEOUT_MS)
      const direct = record.addrs.filter(a => !a.includes('/p2p-circuit')).slice(0, 2)
      if (direct.length === 0) errors.push('no direct address')
      for (const a of direct) {
        if (signal.aborted) break
        let ma: Multiaddr
        try {
          ma = multiaddr(a)
          if (ma.getComponents().at(-1)?.name !== 'p2p') ma = ma.encapsulate(`/p2p/${record.peerId}`)
        } catch { errors.push(`${a}: not a multiaddr`); continue }
        try {
          // `force`: a new connection to this address, not the farmer's own connection to us. It is
          // left open (libp2p prunes idle ones): closing it at once raced the farmer's next stream,
          // which libp2p could open on the connection being closed.
          const c = await this.#libp2p.dial(ma, { force: true, signal })
          const who = c.remotePeer.toString()
          if (who !== record.peerId) { void c.close().catch(() => {}); errors.push(`${a}: answered by another peer`); continue }
          if (this.#reached.size >= MAX_REACHED) this.#reached.clear()
          this.#reached.set(record.peerId, key)
          return
        } catch (err) {
          errors.push(`${a}: ${String((err as Error).message ?? err).slice(0, 120)}`)
        }
      }
      throw new DirectoryError('UNREACHABLE', 'the relay could not dial this farmer back at any address of its record', { tried: errors.slice(0, 2) })
    } finally {
      this.#dialing--
    }
  }

  /**
   * One page of matches: up to `limit` listings and `maxPageBytes` of their JSON. The registry is
   * asked for one more than the limit, to know whether more remain without a second pass.
   */
  #page (filter: DirectoryFilter): { farmers: FarmerListing[], more?: true, next?: string, sharedSubnets?: true, relays?: RelayListing[] } {
    const limit = filter.limit ?? DEFAULT_QUERY_LIMIT
    const found = this.#registry.query({ ...filter, limit: limit + 1 })
    const budget = this.#init.maxPageBytes ?? MAX_PAGE_BYTES
    const farmers: FarmerListing[] = []
    let bytes = 0
    for (const l of found) {
      if (farmers.length === limit) break
      bytes += JSON.stringify(l).length + 1 // every field is ASCII (escapes included), so characters are bytes
      if (bytes > budget && farmers.length > 0) break
      farmers.push(l)
    }
    const relays = filter.after === undefined ? this.#federation?.relays().slice(0, MAX_LISTED_RELAYS) : undefined
    const shared = { ...(this.#init.sharedSubnets === true ? { sharedSubnets: true as const } : {}), ...(relays !== undefined ? { relays } : {}) }
    if (farmers.length === found.length) return { farmers, ...shared }
    return { farmers, more: true, next: farmers.at(-1)!.peerId, ...shared }
  }
}

/** Options of the dialer-side calls. */
export interface DirectoryCallOptions extends AbortOptions {
  /** @default DIRECTORY_TIMEOUT_MS */
  timeoutMs?: number
}

/** Announces (or refreshes) a signed record at `relay`; returns the relay's entry TTL. */
export async function announceToDirectory (libp2p: Libp2p, relay: Multiaddr | PeerId, signed: SignedFarmerRecord, options: DirectoryCallOptions = {}): Promise<{ ttlMs: number }> {
  const res = await call(libp2p, relay, { op: 'announce', signed }, options)
  return { ttlMs: typeof res.ttlMs === 'number' ? res.ttlMs : 0 }
}

/**
 * Removes the calling node from `relay`'s directory at once (shutdown), instead of waiting for the
 * TTL. With `options.tombstone` (`signFarmerTombstone`) the leave is signed, and the federation
 * gossips it to every relay.
 */
export async function leaveDirectory (libp2p: Libp2p, relay: Multiaddr | PeerId, options: DirectoryCallOptions & { tombstone?: SignedFarmerRecord } = {}): Promise<boolean> {
  const req: Request = options.tombstone === undefined ? { op: 'leave' } : { op: 'leave', signed: options.tombstone }
  return (await call(libp2p, relay, req, options)).removed === true
}

/** Farmers listed at `relay` that match `filter`: the first page only (see `queryDirectoryPage`). */
export async function queryDirectory (libp2p: Libp2p, relay: Multiaddr | PeerId, filter: DirectoryFilter = {}, options: DirectoryCallOptions = {}): Promise<FarmerListing[]> {
  return (await queryDirectoryPage(libp2p, relay, filter, options)).farmers
}

/** One page of the farmers listed at `relay` that match `filter`; follow `next` while `more`. */
export async function queryDirectoryPage (libp2p: Libp2p, relay: Multiaddr | PeerId, filter: DirectoryFilter = {}, options: DirectoryCallOptions = {}): Promise<DirectoryPage> {
  const res = await call(libp2p, relay, { op: 'query', filter: validateFilter(filter) }, options)
  if (!Array.isArray(res.farmers)) throw new DirectoryError('BAD_REQUEST', 'malformed query response')
  const more = res.more === true
  if (more && (typeof res.next !== 'string' || !isPeerIdText(res.next))) throw new DirectoryError('BAD_REQUEST', 'malformed query response: more without next')
  const relays = checkRelays(res.relays)
  return { farmers: res.farmers as FarmerListing[], more, ...(more ? { next: res.next as string } : {}), sharedSubnets: res.sharedSubnets === true, ...(relays !== undefined ? { relays } : {}) }
}

/**
 * The relays an answer lists, as a client believes them: at most `MAX_LISTED_RELAYS`, each a peer
 * id with up to `MAX_RELAY_ADDRS` addresses that parse and end in that peer id; malformed entries
 * are dropped. Undefined when the answer lists none.
 */
export function checkRelays (x: unknown): RelayListing[] | undefined {
  if (!Array.isArray(x)) return undefined
  const out: RelayListing[] = []
  for (const r of x.slice(0, MAX_LISTED_RELAYS)) {
    if (!isObject(r) || typeof r.peerId !== 'string' || !isPeerIdText(r.peerId) || !Array.isArray(r.addrs)) continue
    const addrs = r.addrs.slice(0, MAX_RELAY_ADDRS).filter((a): a is string =>
      typeof a === 'string' && a.length <= MAX_ADDR_BYTES && /^[\x21-\x7e]+$/.test(a) && a.endsWith(`/p2p/${r.peerId as string}`))
    if (addrs.length > 0) out.push({ peerId: r.peerId, addrs })
  }
  return out
}

/**
 * A listing from a relay, checked as the relay checks records (relays are strangers too): the
 * listing with its addresses in canonical form, or undefined when the relay sent something no
 * honest relay would list. Admission fields of the wrong shape are dropped (the farmer then counts
 * as new); their signature is the caller's to check (`verifyAdmission`).
 */
export function checkListing (l: unknown): FarmerListing | undefined {
  if (!isObject(l) || !isCount(l.lastSeen) || !isCount(l.expiresAt)) return undefined
  try {
    const admission = admissionFields(l)
    const by = admission !== undefined && typeof l.admittedBy === 'string' && isPeerIdText(l.admittedBy) ? { admittedBy: l.admittedBy } : {}
    return { ...validateRecord(l), lastSeen: l.lastSeen, expiresAt: l.expiresAt, ...admission, ...by }
  } catch {
    return undefined
  }
}

async function call (libp2p: Libp2p, relay: Multiaddr | PeerId, req: Request, options: DirectoryCallOptions): Promise<Record<string, unknown>> {
  const timeout = AbortSignal.timeout(options.timeoutMs ?? DIRECTORY_TIMEOUT_MS)
  const signal = options.signal === undefined ? timeout : AbortSignal.any([options.signal, timeout])
  const stream = await libp2p.dialProtocol(relay, DIRECTORY_PROTOCOL, { signal, runOnLimitedConnection: true })
  try {
    const lp = lpStream(stream, { maxDataLength: MAX_RESPONSE_BYTES })
    await lp.write(new TextEncoder().encode(JSON.stringify(req)), { signal })
    const res = await readJson(lp, signal)
    await stream.close({ signal }).catch(() => {})
    if (!isObject(res)) throw new DirectoryError('BAD_REQUEST', 'malformed response')
    if (res.ok !== true) {
      throw new DirectoryError(isCode(res.code) ? res.code : 'INTERNAL', typeof res.message === 'string' ? res.message.slice(0, 500) : 'refused', wireDetails(res.details))
    }
    return res
  } catch (err) {
    stream.abort(err as Error)
    throw err
  }
}

async function readJson (lp: ReturnType<typeof lpStream>, signal: AbortSignal): Promise<unknown> {
  let frame
  try {
    frame = await lp.read({ signal })
  } catch (err) {
    if ((err as Error).name === 'InvalidDataLengthError') throw new DirectoryError('TOO_LARGE', 'frame exceeds the size limit')
    throw err
  }
  try { return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(frame.subarray())) } catch { throw bad('frame is not UTF-8 JSON') }
}

function validateRecord (r: unknown): FarmerRecord {
  if (!isObject(r)) throw bad('record must be an object')
  const { peerId, addrs, region, tier, kind, capacity, free, version, seq } = r
  if (typeof peerId !== 'string' || !isPeerIdText(peerId)) throw bad('peerId must be a peer id')
  if (!Array.isArray(addrs) || addrs.length > MAX_ADDRS) throw bad(`addrs must be an array of at most ${MAX_ADDRS}`)
  const canonical = canonicalAddrs(addrs, peerId)
  if (!isLabel(region) || !isLabel(version)) throw bad(`region and version must be 1-${MAX_LABEL_CHARS} printable characters`)
  if (tier !== 'live' && tier !== 'archive') throw bad('tier must be live or archive')
  if (kind !== 'full' && kind !== 'light') throw bad('kind must be full or light')
  if (!isCount(capacity) || !isCount(free) || !isCount(seq)) throw bad('capacity, free and seq must be non-negative integers')
  return { peerId, addrs: canonical, region, tier, kind, capacity, free: Math.min(free, capacity), version, seq }
}

function validateTombstone (r: Record<string, unknown>): FarmerTombstone {
  const { peerId, seq, gone } = r
  if (gone !== true || Object.keys(r).length !== 3) throw bad('a tombstone is exactly { peerId, seq, gone: true }')
  if (typeof peerId !== 'string' || !isPeerIdText(peerId)) throw bad('peerId must be a peer id')
  if (!isCount(seq)) throw bad('seq must be a non-negative integer')
  return { peerId, seq, gone: true }
}

function validateFilter (f: unknown): DirectoryFilter {
  if (!isObject(f)) throw bad('filter must be an object')
  const out: DirectoryFilter = {}
  if (f.regions !== undefined) {
    if (!Array.isArray(f.regions) || f.regions.length > 32 || !f.regions.every(isLabel)) throw bad('regions must be up to 32 labels')
    out.regions = f.regions
  }
  if (f.tier !== undefined) { if (f.tier !== 'live' && f.tier !== 'archive') throw bad('bad tier'); out.tier = f.tier }
  if (f.kind !== undefined) { if (f.kind !== 'full' && f.kind !== 'light') throw bad('bad kind'); out.kind = f.kind }
  if (f.minFree !== undefined) { if (!isCount(f.minFree)) throw bad('minFree must be a non-negative integer'); out.minFree = f.minFree }
  if (f.limit !== undefined) {
    if (!isCount(f.limit) || f.limit < 1 || f.limit > MAX_QUERY_LIMIT) throw bad(`limit must be 1-${MAX_QUERY_LIMIT}`)
    out.limit = f.limit
  }
  if (f.after !== undefined) {
    if (typeof f.after !== 'string' || !isPeerIdText(f.after)) throw bad('after must be a peer id')
    out.after = f.after
  }
  return out
}

/** Canonical, deduplicated dialable addresses; throws on the first malformed one (see `directory-addr.ts`). */
function canonicalAddrs (addrs: unknown[], peerId: string): string[] {
  const out = new Set<string>()
  for (const [i, a] of addrs.entries()) {
    const v = checkAddr(a, peerId)
    if (v.ok) out.add(v.addr)
    else if (!v.drop) throw new DirectoryError('BAD_REQUEST', `addrs[${i}]: ${v.reason}`, { index: i })
  }
  return [...out]
}

/** The refusal details a dialer believes: short, typed, nothing a relay could grow. */
function wireDetails (d: unknown): Record<string, unknown> {
  if (!isObject(d)) return {}
  const out: Record<string, unknown> = {}
  if (typeof d.reason === 'string' && /^[a-z-]{1,32}$/.test(d.reason)) out.reason = d.reason
  if (isCount(d.retryAfterMs)) out.retryAfterMs = d.retryAfterMs
  if (isCount(d.index)) out.index = d.index
  return out
}

function asDirectoryError (err: unknown): DirectoryError {
  if (err instanceof DirectoryError) return err
  const e = err as Error
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return new DirectoryError('BAD_REQUEST', 'request timed out')
  if (e?.name === 'UnexpectedEOFError') return bad('stream ended before a full request')
  return new DirectoryError('INTERNAL', 'internal error')
}

const bad = (message: string): DirectoryError => new DirectoryError('BAD_REQUEST', message)
const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x)
const isCount = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) >= 0
const isLabel = (x: unknown): x is string => typeof x === 'string' && /^[\x21-\x7e]{1,64}$/.test(x)
/** Base58btc (`12D3Koo…`, `Qm…`) or base32 CID text: the alphabets peer ids print in. */
const isPeerIdText = (x: string): boolean => /^[1-9A-HJ-NP-Za-km-z]{1,128}$|^b[a-z2-7]{1,127}$/.test(x)
const isCode = (x: unknown): x is DirectoryErrorCode => (DIRECTORY_ERROR_CODES as readonly unknown[]).includes(x)

function concat (a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.byteLength + b.byteLength)
  out.set(a)
  out.set(b, a.byteLength)
  return out
}
