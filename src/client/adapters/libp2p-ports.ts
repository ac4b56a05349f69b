import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import type { Libp2p } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { checkListing, MAX_QUERY_LIMIT, queryDirectoryPage } from '../../net/protocols/directory.ts'
import type { DirectoryFilter, DirectoryPage, FarmerListing } from '../../net/protocols/directory.ts'
import { verifyAdmission } from '../../net/protocols/directory-admission.ts'
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

  constructor (libp2p: Libp2p, relay: string | Multiaddr, init: RelayDirectoryInit = {}) {
    this.#libp2p = libp2p
    this.#relay = typeof relay === 'string' ? multiaddr(relay) : relay
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
    let shared = true
    for (let pages = 0; pages < MAX_PAGES; pages++) {
      const page = await this.#page({ limit: Math.max(1, Math.min(MAX_QUERY_LIMIT, max - seen.size)), ...(after !== undefined ? { after } : {}) }, options)
      shared &&= page.sharedSubnets
      for (const raw of page.farmers) {
        const l = checkListing(raw)
        if (l === undefined || seen.has(l.peerId) || seen.size >= max) continue
        seen.set(l.peerId, { peerId: l.peerId, addrs: l.addrs, region: l.region, tier: l.tier, kind: l.kind, free: l.free, ...await this.#admitted(l) })
      }
      // A relay that says `more` but does not move forward would keep us here forever.
      if (!page.more || seen.size >= max || page.next === undefined || (after !== undefined && page.next <= after)) break
      after = page.next
    }
    this.sharedSubnets = shared
    const farmers = [...seen.values()]
    return shared ? farmers.map(f => ({ ...f, sharedSubnets: true })) : farmers
  }

  /** `subnet` and `vettedAt` of a listing whose admission the relay signed; nothing otherwise. */
  async #admitted (l: FarmerListing): Promise<Pick<Farmer, 'subnet' | 'vettedAt'>> {
    const { firstSeen, subnet, vettedAt, admission } = l
    if (this.#relayId === undefined || firstSeen === undefined || subnet === undefined || vettedAt === undefined || admission === undefined) return {}
    const text = `${l.peerId} ${firstSeen} ${subnet} ${vettedAt} ${admission}`
    let ok = this.#checked.get(text)
    if (ok === undefined) {
      ok = await verifyAdmission(this.#relayId, l.peerId, { firstSeen, subnet, vettedAt, admission })
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
        if (attempt >= 2 || options.signal?.aborted === true || name === 'DirectoryError' || name === 'AbortError') throw err
        await new Promise(resolve => setTimeout(resolve, 200 * (attempt + 1)))
      }
    }
  }
}

/** A dialable target: the first address that names the peer, else the peer id (libp2p's peer store). */
function target (f: FarmerRef): Multiaddr | ReturnType<typeof peerIdFromString> {
  const a = f.addrs.find(x => x.endsWith(`/p2p/${f.peerId}`)) ?? f.addrs[0]
  return a === undefined ? peerIdFromString(f.peerId) : multiaddr(a.includes('/p2p/') ? a : `${a}/p2p/${f.peerId}`)
}
