import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import type { Libp2p } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { checkListing, MAX_QUERY_LIMIT, queryDirectoryPage } from '../../net/protocols/directory.ts'
import type { DirectoryFilter, DirectoryPage, FarmerListing } from '../../net/protocols/directory.ts'
import { verifyFederatedAdmission } from '../../net/protocols/directory-admission.ts'
import { FarmerClient, type FarmerClientInit, type GetOptions } from './farmer-client.ts'
import type { CallOptions, Farmer, FarmerDirectory, FarmerRef, FragmentTransport } from '../ports.ts'
import type { OwnerKey } from '../../core/owner-key.ts'

/**
 * The pipelines' ports over libp2p: fragments through `FarmerClient`, farmers from the relay's
 * directory. Platform-neutral (the browser wires the same classes to its own libp2p node).
 */
export class Libp2pTransport implements FragmentTransport {
  readonly client: FarmerClient
  /** `FarmerClient.get` refuses bytes that do not hash to the id (`HASH_MISMATCH`). */
  readonly verifiesHashes = true

  constructor (libp2p: Libp2p, init: FarmerClientInit = {}) {
    this.client = new FarmerClient({ libp2p }, init)
  }

  async put (f: FarmerRef, id: string, bytes: Uint8Array, options: CallOptions & { owner: Pick<OwnerKey, 'publicKey'> }): Promise<{ stored: boolean }> {
    return await this.client.put(target(f), id, bytes, options)
  }

  async get (f: FarmerRef, id: string, options: GetOptions = {}): Promise<Uint8Array> {
    return await this.client.get(target(f), id, options)
  }

  async has (f: FarmerRef, ids: string[], options: CallOptions = {}): Promise<boolean[]> {
    return await this.client.has(target(f), ids, options)
  }

  async delete (f: FarmerRef, id: string, owner: OwnerKey, options: CallOptions = {}): Promise<void> {
    await this.client.delete(target(f), id, owner, options)
  }

  async renew (f: FarmerRef, ids: string[], owner: OwnerKey, options: CallOptions = {}): Promise<boolean[]> {
    return (await this.client.renew(target(f), ids, owner, options)).renewed
  }
}

/** Options of `RelayDirectory`. */
export interface RelayDirectoryInit {
  /** Most farmers one `list()` gathers, over as many pages as that takes. @default RELAY_DIRECTORY_MAX_FARMERS */
  maxFarmers?: number
  /** Told when `list()` answers from its memory because the relay failed; for logs and the UI. @default ignore */
  onStale?: (err: Error) => void
  /**
   * Times a page is asked again after a transport failure. A set of relays asks another relay
   * instead (0). @default 2
   */
  retries?: number
}

/**
 * Farmers one `list()` gathers. Placement needs far fewer; at the worst case of ~2.8 KiB a listing
 * (its admission included) this is 5.6 MB over eleven 512 KiB pages.
 */
export const RELAY_DIRECTORY_MAX_FARMERS = 2_000
/** Admission signatures remembered as checked; past this the memory starts afresh. */
const MAX_CHECKED_ADMISSIONS = 4_096
/** Pages one `list()` reads at most: twice what an honest relay needs for the most farmers, so a hostile one sending a listing a page cannot keep a client reading (20 frames of ≤ 1 MiB). */
const MAX_PAGES = 20

/**
 * Farmers as the relay's directory lists them. The directory is a stranger too: every listing is
 * checked as the relay checks records (`checkListing`), and when a query fails the last good list
 * is returned (with `stale` set and `onStale` told), since get and put find farmers only here and
 * must not stop because the directory misbehaves for a while.
 *
 * A farmer gets `subnet` and `vettedAt` only when its listing's admission verifies against the
 * relay's peer id (the one in the relay multiaddr); otherwise it has neither, so placement counts
 * it as new, on a subnet of its own. When the relay says its farmers share a subnet on purpose,
 * every farmer of that answer carries `sharedSubnets: true` (and `sharedSubnets` here says so), so
 * placement relaxes its subnet rule with no change to its callers.
 */
export class RelayDirectory implements FarmerDirectory {
  readonly #libp2p: Libp2p
  readonly #relay: Multiaddr
  readonly #init: RelayDirectoryInit
  readonly #relayId: string | undefined
  /** Admission signatures already checked, by the text they cover: a heartbeat does not change them. */
  readonly #checked = new Map<string, boolean>()
  #last: Farmer[] | undefined
  /** True when the last `list()` answered from memory; `lastError` says why. */
  stale = false
  lastError: Error | undefined
  /** The relay's last answer said its farmers share a subnet on purpose (a single-host grid). */
  sharedSubnets = false
  /**
   * Per farmer of the last answer: its record's `seq` (its clock when it signed, to prefer the
   * newer record when answers of several relays merge) and when the relay first saw it.
   */
  readonly details = new Map<string, { seq: number, firstSeen?: number }>()
  /** Relays the last answer told of (its optional `relays` field), as dialable multiaddrs; at most MAX_LEARNED_RELAYS. */
  learned: string[] = []
  /** The relay asked, as given. */
  readonly relay: string

  constructor (libp2p: Libp2p, relay: string | Multiaddr, init: RelayDirectoryInit = {}) {
    this.#libp2p = libp2p
    this.#relay = typeof relay === 'string' ? multiaddr(relay) : relay
    this.relay = this.#relay.toString()
    this.#relayId = this.#relay.getComponents().findLast(c => c.name === 'p2p')?.value
    this.#init = init
  }

  /**
   * Every listed farmer (up to `maxFarmers`), page by page. Falls back to the last good list when
   * the relay fails or refuses; throws only when there is none, or when the caller aborted.
   */
  async list (options: CallOptions = {}): Promise<Farmer[]> {
    try {
      const farmers = await this.#fetch(options)
      this.#last = farmers
      this.stale = false
      this.lastError = undefined
      return farmers
    } catch (err) {
      if (this.#last === undefined || options.signal?.aborted === true) throw err
      this.stale = true
      this.lastError = err as Error
      this.#init.onStale?.(err as Error)
      return this.#last
    }
  }

  async #fetch (options: CallOptions): Promise<Farmer[]> {
    const max = this.#init.maxFarmers ?? RELAY_DIRECTORY_MAX_FARMERS
    const seen = new Map<string, Farmer>()
    let after: string | undefined
    const details = new Map<string, { seq: number, firstSeen?: number }>()
    const learned = new Set<string>()
    let shared = true
    for (let pages = 0; pages < MAX_PAGES; pages++) {
      const page = await this.#page({ limit: Math.max(1, Math.min(MAX_QUERY_LIMIT, max - seen.size)), ...(after !== undefined ? { after } : {}) }, options)
      shared &&= page.sharedSubnets
      const pageRelays = relayAddrsOf(page)
      for (const a of pageRelays) if (learned.size < MAX_LEARNED_RELAYS) learned.add(a)
      const federation = pageRelays.map(a => a.slice(a.lastIndexOf('/p2p/') + 5))
      for (const raw of page.farmers) {
        const l = checkListing(raw)
        if (l === undefined || seen.has(l.peerId) || seen.size >= max) continue
        details.set(l.peerId, { seq: l.seq, ...(typeof l.firstSeen === 'number' ? { firstSeen: l.firstSeen } : {}) })
        seen.set(l.peerId, { peerId: l.peerId, addrs: l.addrs, region: l.region, tier: l.tier, kind: l.kind, free: l.free, ...await this.#admitted(l, federation) })
      }
      // A relay that says `more` but does not move forward would keep us here forever.
      if (!page.more || seen.size >= max || page.next === undefined || (after !== undefined && page.next <= after)) break
      after = page.next
    }
    this.sharedSubnets = shared
    this.details.clear()
    for (const [id, d] of details) this.details.set(id, d)
    this.learned = [...learned]
    const farmers = [...seen.values()]
    return shared ? farmers.map(f => ({ ...f, sharedSubnets: true })) : farmers
  }

  /**
   * `subnet` and `vettedAt` of a listing whose admission the answering relay signed, or a relay of
   * its federation (`federation`: the peer ids its page listed) did; nothing otherwise.
   */
  async #admitted (l: FarmerListing, federation: readonly string[]): Promise<Pick<Farmer, 'subnet' | 'vettedAt'>> {
    const { firstSeen, subnet, vettedAt, admission, admittedBy } = l
    if (this.#relayId === undefined || firstSeen === undefined || subnet === undefined || vettedAt === undefined || admission === undefined) return {}
    const signer = admittedBy ?? this.#relayId
    if (signer !== this.#relayId && !federation.includes(signer)) return {} // a signer nobody vouched for in this answer
    const text = `${l.peerId} ${firstSeen} ${subnet} ${vettedAt} ${admission} ${signer}`
    let ok = this.#checked.get(text)
    if (ok === undefined) {
      ok = await verifyFederatedAdmission(this.#relayId, federation, l.peerId, { firstSeen, subnet, vettedAt, admission }, admittedBy)
      if (this.#checked.size >= MAX_CHECKED_ADMISSIONS) this.#checked.clear()
      this.#checked.set(text, ok)
    }
    return ok ? { subnet, vettedAt } : {}
  }

  /**
   * One page. A query is read-only, so a transport failure (a stream reset or closed early, as
   * happens under load) is retried twice before it counts; a refusal is not retried.
   */
  async #page (filter: DirectoryFilter, options: CallOptions): Promise<DirectoryPage> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await queryDirectoryPage(this.#libp2p, this.#relay, filter, options)
      } catch (err) {
        const name = (err as Error).name
        if (attempt >= (this.#init.retries ?? 2) || options.signal?.aborted === true || name === 'DirectoryError' || name === 'AbortError') throw err
        await new Promise(resolve => setTimeout(resolve, 200 * (attempt + 1)))
      }
    }
  }
}

/** Relays one directory answer may tell of; more are ignored. */
export const MAX_LEARNED_RELAYS = 16

/**
 * The relays a directory answer tells of, when it has the optional `relays` field (relay records
 * shared by a federation of relays: a peer id and its addresses, plain or as a signed `record`
 * text). Each becomes one dialable multiaddr ending in its `/p2p/<peer id>`; anything malformed is
 * skipped. The relay checked the records' signatures before sharing them; a client uses learned
 * relays only after the ones it was given (see `RelaySetDirectory`).
 */
export function relayAddrsOf (page: unknown): string[] {
  const list = (page as { relays?: unknown }).relays
  if (!Array.isArray(list)) return []
  const out: string[] = []
  for (const entry of list.slice(0, MAX_LEARNED_RELAYS * 4)) {
    let r: unknown = entry
    if (typeof (entry as { record?: unknown }).record === 'string') {
      try { r = JSON.parse((entry as { record: string }).record) } catch { continue }
    }
    const { peerId, addrs } = (r ?? {}) as { peerId?: unknown, addrs?: unknown }
    if (typeof peerId !== 'string' || !/^[1-9A-HJ-NP-Za-km-z]{40,60}$/.test(peerId) || !Array.isArray(addrs)) continue
    const addr = addrs.find((a): a is string => typeof a === 'string' && a.length <= 256 && /\/wss?(\/|$)/.test(a))
    if (addr === undefined) continue
    const full = addr.endsWith(`/p2p/${peerId}`) ? addr : addr.includes('/p2p/') ? undefined : `${addr}/p2p/${peerId}`
    if (full === undefined) continue
    try { multiaddr(full) } catch { continue }
    out.push(full)
    if (out.length >= MAX_LEARNED_RELAYS) break
  }
  return out
}

/** A dialable target: the first address that names the peer, else the peer id (libp2p's peer store). */
function target (f: FarmerRef): Multiaddr | ReturnType<typeof peerIdFromString> {
  const a = f.addrs.find(x => x.endsWith(`/p2p/${f.peerId}`)) ?? f.addrs[0]
  return a === undefined ? peerIdFromString(f.peerId) : multiaddr(a.includes('/p2p/') ? a : `${a}/p2p/${f.peerId}`)
}
