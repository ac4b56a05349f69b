/**
 * Relays that federate: each relay publishes the farmer records it admits on gossipsub
 * (`DIRECTORY_TOPIC`, messages in `gossip-records.ts`), checks every message it receives in
 * gossipsub's topic validator (which also decides whether it is forwarded), keeps dialing the peer
 * relays it was given (`--peer`), and pulls their current records over the sync protocol after
 * every (re)connection, since gossipsub keeps no history.
 *
 * Verdicts: `reject` for what no honest relay sends (a bad signature, an admission that does not
 * check, a message about a relay from another peer); gossipsub scores the sender down for it.
 * `ignore` for what an honest relay may send late (an old seq, a full directory): not kept, not
 * forwarded, no penalty.
 *
 * Membership is open: any gossipsub peer that signs its own relay record is listed (at most
 * `MAX_RELAYS`, expiring like farmer records), and any relay's admission of a farmer is believed
 * when its signature checks and the relay itself originated the message. Each honest relay enforces
 * its own admission budgets; an operator federates only with relays it trusts (`--peer`).
 */
import type { GossipSub, Message } from '@libp2p/gossipsub'
import { TopicValidatorResult } from '@libp2p/gossipsub'
import type { Libp2p, PeerId, PrivateKey } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import type { Logger } from '../src/core/logger.ts'
import type { Admission } from '../src/net/protocols/directory-admission.ts'
import { MAX_LISTED_RELAYS, MAX_RELAY_ADDRS } from '../src/net/protocols/directory.ts'
import type { DirectoryFederation, FarmerRecord, RelayListing, SignedFarmerRecord } from '../src/net/protocols/directory.ts'
import { pullDirectorySync, serveDirectorySync } from '../src/net/protocols/directory-sync.ts'
import { verifyOffThread } from './ed25519.ts'
import type { MemoryDirectoryStore } from './directory-store.ts'
import {
  checkGossip, DIRECTORY_TOPIC, encodeGossip, openGossip, signRelayRecord, signWithdrawal
} from './gossip-records.ts'
import type { GossipItem, GossipRefused, RelayRecord } from './gossip-records.ts'

/** Relays of the federation a relay remembers at most. */
export const MAX_RELAYS = 64
/** How often a relay republishes its own record; the record lives three times as long. */
export const RELAY_RECORD_EVERY_MS = 10_000
/** Farmer records per sync page at most (the page's byte cap usually ends it first). */
const SYNC_PAGE_RECORDS = 500
/** Backoff between dials of a peer relay that is down: doubling from the first to the last. */
export const REDIAL_BACKOFF_MS = { first: 250, max: 10_000 }

/** Options of `Federation`. */
export interface FederationInit {
  /** The relay's node; its `services.pubsub` is gossipsub. */
  libp2p: Libp2p
  /** The relay's key, for its relay record and withdrawals. */
  key: PrivateKey
  store: MemoryDirectoryStore
  /** Multiaddrs (with `/p2p/`) of the relays to join and keep dialing. @default none */
  peers?: string[]
  /** @default RELAY_RECORD_EVERY_MS */
  relayRecordEveryMs?: number
  log: Logger
}

interface HeldRelay { record: RelayRecord, signed: SignedFarmerRecord, expiresAt: number }

/** The federation side of one relay; it is the `DirectoryFederation` its directory service reports to. */
export class Federation implements DirectoryFederation {
  readonly #init: FederationInit
  readonly #pubsub: GossipSub
  readonly #self: string
  readonly #relays = new Map<string, HeldRelay>()
  readonly #stop = new AbortController()
  #timer: ReturnType<typeof setInterval> | undefined
  #unserve: (() => Promise<void>) | undefined
  #announceSoon: ReturnType<typeof setTimeout> | undefined
  #seq = 0
  /** Sync pulls done (for tests and logs). */
  syncs = 0
  /** Gossip messages by verdict (accept, ignore, reject), for the relay's metrics. */
  readonly verdicts = { accept: 0, ignore: 0, reject: 0 }

  constructor (init: FederationInit) {
    this.#init = init
    this.#pubsub = (init.libp2p.services as { pubsub: GossipSub }).pubsub
    this.#self = init.libp2p.peerId.toString()
  }

  /** Subscribes, serves sync, publishes this relay's record and starts dialing the peer relays. */
  async start (): Promise<void> {
    this.#pubsub.topicValidators.set(DIRECTORY_TOPIC, async (_peer: PeerId, msg: Message) => await this.#validate(msg))
    this.#pubsub.subscribe(DIRECTORY_TOPIC)
    // A peer that just subscribed has not heard this relay's record: say it again soon (once per burst).
    this.#pubsub.addEventListener('subscription-change', this.#onSubscription)
    this.#unserve = await serveDirectorySync(this.#init.libp2p, (after, maxBytes) => this.#page(after, maxBytes), {
      onError: err => { this.#init.log.debug('sync request failed', { err }) }
    })
    const every = this.#init.relayRecordEveryMs ?? RELAY_RECORD_EVERY_MS
    this.#timer = setInterval(() => { void this.#announceSelf() }, every)
    this.#timer.unref()
    await this.#announceSelf()
    for (const addr of this.#init.peers ?? []) void this.#keep(addr)
  }

  /** Stops dialing, serving and publishing. */
  async stop (): Promise<void> {
    this.#stop.abort()
    clearInterval(this.#timer)
    clearTimeout(this.#announceSoon)
    this.#pubsub.removeEventListener('subscription-change', this.#onSubscription)
    this.#pubsub.topicValidators.delete(DIRECTORY_TOPIC)
    await this.#unserve?.().catch(() => {})
  }

  /** @inheritDoc */
  accepted (_record: FarmerRecord, signed: SignedFarmerRecord, admission?: Admission): void {
    if (admission === undefined) return // a relay without admissions has nothing the others may believe
    this.#publish({ t: 'farmer', signed, admission, by: this.#self })
  }

  /** @inheritDoc */
  left (peerId: string, tombstone?: { seq: number, signed: SignedFarmerRecord }): void {
    if (tombstone !== undefined) {
      this.#publish({ t: 'gone', signed: tombstone.signed })
      return
    }
    // A bare leave: only the relay that admitted the farmer may withdraw it, at the seq it holds.
    const seq = this.#init.store.heldSeq(peerId)
    const by = this.#init.store.admittedBy(peerId)
    if (seq === undefined || (by !== undefined && by !== this.#self)) return
    void signWithdrawal(this.#init.key, peerId, seq).then(sig => { this.#publish({ t: 'withdraw', peerId, seq, by: this.#self, sig }) })
  }

  /** @inheritDoc */
  relays (): RelayListing[] {
    const now = Date.now()
    const out: RelayListing[] = [{ peerId: this.#self, addrs: this.#ownAddrs() }]
    for (const r of this.#relays.values()) {
      if (r.expiresAt > now) out.push({ peerId: r.record.peerId, addrs: r.record.addrs })
      if (out.length >= MAX_LISTED_RELAYS) break
    }
    return out
  }

  /** Checks one item and keeps what it says; the gossipsub verdict. `from`: who originated it (gossip), if known. */
  async apply (item: GossipItem | GossipRefused, from?: string): Promise<TopicValidatorResult> {
    const store = this.#init.store
    switch (item.t) {
      case 'refused':
        this.#init.log.debug('gossip refused', { reason: item.reason, from })
        return TopicValidatorResult.Reject
      case 'farmer': {
        if (from !== undefined && item.by !== from) return TopicValidatorResult.Reject
        const held = store.heldSeq(item.record.peerId)
        if (held !== undefined && item.record.seq <= held) return TopicValidatorResult.Ignore
        try {
          store.learn(item.record, item.signed, item.admission, item.by === this.#self ? undefined : item.by)
          return TopicValidatorResult.Accept
        } catch {
          return TopicValidatorResult.Ignore // stale, expired, directory full
        }
      }
      case 'gone':
        return store.tombstone(item.record.peerId, item.record.seq) ? TopicValidatorResult.Accept : TopicValidatorResult.Ignore
      case 'withdraw': {
        if (from !== undefined && item.by !== from) return TopicValidatorResult.Reject
        if (item.by === this.#self || store.admittedBy(item.peerId) !== item.by) return TopicValidatorResult.Ignore
        return store.tombstone(item.peerId, item.seq, true) ? TopicValidatorResult.Accept : TopicValidatorResult.Ignore
      }
      case 'relay': {
        const { record, signed } = item
        if (from !== undefined && record.peerId !== from) return TopicValidatorResult.Reject
        if (record.peerId === this.#self) return TopicValidatorResult.Ignore
        const now = Date.now()
        const held = this.#relays.get(record.peerId)
        if (held !== undefined && held.expiresAt > now && record.seq <= held.record.seq) return TopicValidatorResult.Ignore
        const expiresAt = Math.min(record.seq, now) + 3 * (this.#init.relayRecordEveryMs ?? RELAY_RECORD_EVERY_MS)
        if (expiresAt <= now) return TopicValidatorResult.Ignore
        if (held === undefined) {
          for (const [id, r] of this.#relays) if (r.expiresAt <= now) this.#relays.delete(id)
          if (this.#relays.size >= MAX_RELAYS) return TopicValidatorResult.Ignore
        }
        this.#relays.set(record.peerId, { record, signed, expiresAt })
        return TopicValidatorResult.Accept
      }
    }
  }

  /** Pulls `peer`'s current records and relays, each checked like gossip. Returns the items read. */
  async sync (peer: PeerId): Promise<number> {
    // A page's signatures are checked at once, off the main thread; what they say is kept in page order.
    const n = await pullDirectorySync(this.#init.libp2p, peer, async items => {
      for (const item of await Promise.all(items.map(async item => await checkGossip(item, verifyOffThread)))) await this.apply(item)
    }, { signal: this.#stop.signal })
    this.syncs++
    return n
  }

  async #validate (msg: Message): Promise<TopicValidatorResult> {
    // Relays sign every message (gossipsub's StrictSign): `from` is who originated it.
    const verdict = msg.type !== 'signed' ? TopicValidatorResult.Reject : await this.apply(await openGossip(msg.data, verifyOffThread), msg.from.toString())
    this.verdicts[verdict]++
    return verdict
  }

  readonly #onSubscription = (): void => {
    if (this.#announceSoon !== undefined) return
    this.#announceSoon = setTimeout(() => {
      this.#announceSoon = undefined
      void this.#announceSelf()
    }, 200)
    this.#announceSoon.unref()
  }

  #ownAddrs (): string[] {
    return this.#init.libp2p.getMultiaddrs().map(a => a.toString()).filter(a => a.length <= 256).slice(0, MAX_RELAY_ADDRS)
  }

  async #announceSelf (): Promise<void> {
    const addrs = this.#ownAddrs()
    if (addrs.length === 0) return
    this.#seq = Math.max(this.#seq + 1, Date.now())
    this.#publish({ t: 'relay', signed: await signRelayRecord(this.#init.key, { peerId: this.#self, addrs, seq: this.#seq }) })
  }

  #publish (msg: object): void {
    const data = encodeGossip(msg)
    if (data === undefined || this.#stop.signal.aborted) return
    this.#pubsub.publish(DIRECTORY_TOPIC, data).catch((err: Error) => { this.#init.log.debug('gossip not published', { err }) })
  }

  /** A sync page: relay records first (first page only), then farmer records after `after` in peer id order. */
  #page (after: string | undefined, maxBytes: number): { items: object[], next?: string } {
    const items: object[] = []
    let bytes = 0
    const now = Date.now()
    if (after === undefined) {
      for (const r of this.#relays.values()) {
        if (r.expiresAt <= now) continue
        const item = { t: 'relay', signed: r.signed }
        bytes += JSON.stringify(item).length + 1
        items.push(item)
      }
    }
    const held = this.#init.store.held(after, SYNC_PAGE_RECORDS)
    for (const [i, h] of held.entries()) {
      if (h.admission === undefined) continue
      const item = { t: 'farmer', signed: h.signed, admission: h.admission, by: h.admittedBy ?? this.#self }
      const size = JSON.stringify(item).length + 1
      if (bytes + size > maxBytes && i > 0) return { items, next: held[i - 1]!.peerId }
      bytes += size
      items.push(item)
    }
    return held.length === SYNC_PAGE_RECORDS ? { items, next: held.at(-1)!.peerId } : { items }
  }

  /** Keeps a connection to the relay at `addr`: dial, pull its records, wait for the drop, back off, again. */
  async #keep (addr: string): Promise<void> {
    const signal = this.#stop.signal
    let ma
    try { ma = multiaddr(addr) } catch { this.#init.log.warn('bad peer relay address', { addr }); return }
    let backoff = REDIAL_BACKOFF_MS.first
    while (!signal.aborted) {
      try {
        const conn = await this.#init.libp2p.dial(ma, { signal: AbortSignal.any([signal, AbortSignal.timeout(10_000)]) })
        backoff = REDIAL_BACKOFF_MS.first
        const dropped = this.#dropped(conn.remotePeer)
        const n = await this.sync(conn.remotePeer).catch((err: Error) => { this.#init.log.warn('sync failed', { addr, err }); return 0 })
        this.#init.log.info('joined peer relay', { addr, synced: n })
        await dropped
      } catch (err) {
        if (signal.aborted) return
        this.#init.log.debug('peer relay unreachable', { addr, err, retryInMs: backoff })
        await new Promise(resolve => { const t = setTimeout(resolve, backoff); t.unref(); signal.addEventListener('abort', () => { clearTimeout(t); resolve(undefined) }, { once: true }) })
        backoff = Math.min(backoff * 2, REDIAL_BACKOFF_MS.max)
      }
    }
  }

  /** Resolves when the last connection to `peer` closes, or the federation stops. */
  async #dropped (peer: PeerId): Promise<void> {
    const libp2p = this.#init.libp2p
    await new Promise<void>(resolve => {
      const done = (): void => {
        libp2p.removeEventListener('peer:disconnect', onDisconnect)
        resolve()
      }
      const onDisconnect = ({ detail }: CustomEvent<PeerId>): void => { if (detail.equals(peer)) done() }
      libp2p.addEventListener('peer:disconnect', onDisconnect)
      this.#stop.signal.addEventListener('abort', done, { once: true })
    })
  }
}
