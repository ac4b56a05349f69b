/**
 * A farmer's heartbeat to a relay's directory: announce on start, then again every `intervalMs`
 * (never slower than a third of the TTL the relay reports, so two lost heartbeats in a row still
 * keep the entry), and a `leave` on stop so the farmer disappears at once instead of after the TTL.
 * Works for full and light farmers alike: it needs only libp2p, the identity key and a way to read
 * free space.
 */
import type { Libp2p, PrivateKey } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { StoreStat } from '../core/fragment-store.ts'
import {
  announceToDirectory, leaveDirectory, signFarmerRecord
} from '../net/protocols/directory.ts'
import type { FarmerKind, FarmerRecord, Tier } from '../net/protocols/directory.ts'

/** Default heartbeat period; the relay's default TTL is three of them. */
export const HEARTBEAT_MS = 10_000
/** First retry delay after a failed announce; doubles up to the heartbeat period. */
const RETRY_MIN_MS = 250

/** What the farmer says about itself, besides what libp2p and the store know. */
export interface AnnouncerInit {
  /** The relay whose directory to join. */
  relay: string | Multiaddr
  region: string
  tier: Tier
  kind: FarmerKind
  version: string
  /** Heartbeat period in ms. @default HEARTBEAT_MS */
  intervalMs?: number
  /** Called after each attempt, for logs and metrics. @default ignore */
  onResult?: (result: { ok: true, ttlMs: number } | { ok: false, err: Error }) => void
}

/** Keeps one farmer listed in one relay's directory. */
export class Announcer {
  readonly #libp2p: Libp2p
  readonly #key: PrivateKey
  readonly #stat: () => Promise<StoreStat>
  readonly #init: AnnouncerInit
  readonly #relay: Multiaddr
  #timer: ReturnType<typeof setTimeout> | undefined
  /** The heartbeat in progress, if any (it never rejects). */
  #beating: Promise<void> | undefined
  #running = false
  #lastSeq = 0
  #retryMs = RETRY_MIN_MS
  #ttlMs = 0
  /** Successful announces so far. */
  ok = 0
  /** Failed announces so far. */
  failed = 0

  constructor (components: { libp2p: Libp2p, privateKey: PrivateKey, stat: () => Promise<StoreStat> }, init: AnnouncerInit) {
    this.#libp2p = components.libp2p
    this.#key = components.privateKey
    this.#stat = components.stat
    this.#init = init
    this.#relay = typeof init.relay === 'string' ? multiaddr(init.relay) : init.relay
  }

  /** Announces once now (without failing when the relay is down: it retries) and starts the heartbeat. */
  async start (): Promise<void> {
    this.#running = true
    await (this.#beating = this.#beat())
  }

  /**
   * Stops the heartbeat and tells the relay to forget this farmer (best effort, 2 s at most). A
   * heartbeat already on its way is waited for first: landing after the leave, it would list the
   * farmer again until the TTL.
   */
  async stop (): Promise<void> {
    this.#running = false
    clearTimeout(this.#timer)
    await this.#beating
    await leaveDirectory(this.#libp2p, this.#relay, { timeoutMs: 2_000 }).catch(() => {})
  }

  /** The record as it would be announced now. */
  async record (): Promise<FarmerRecord> {
    const stat = await this.#stat()
    // seq is the clock, bumped when two beats fall in one millisecond or the clock steps back.
    this.#lastSeq = Math.max(Date.now(), this.#lastSeq + 1)
    return {
      peerId: this.#libp2p.peerId.toString(),
      addrs: this.#libp2p.getMultiaddrs().map(String),
      region: this.#init.region,
      tier: this.#init.tier,
      kind: this.#init.kind,
      capacity: stat.capacity,
      free: stat.free,
      version: this.#init.version,
      seq: this.#lastSeq
    }
  }

  async #beat (): Promise<void> {
    const interval = this.#init.intervalMs ?? HEARTBEAT_MS
    let next: number
    try {
      const signed = await signFarmerRecord(this.#key, await this.record())
      const { ttlMs } = await announceToDirectory(this.#libp2p, this.#relay, signed, { timeoutMs: Math.max(1_000, interval) })
      this.ok++
      this.#ttlMs = ttlMs
      this.#retryMs = RETRY_MIN_MS
      this.#init.onResult?.({ ok: true, ttlMs })
      next = ttlMs > 0 ? Math.min(interval, Math.floor(ttlMs / 3)) : interval
    } catch (err) {
      this.failed++
      this.#init.onResult?.({ ok: false, err: err as Error })
      // A relay that refuses for a budget (BUSY) says when it will take the next announce: sooner
      // is only refused again, and spends the relay's signature checks for nothing.
      next = Math.max(this.#retryMs, retryAfter(err))
      this.#retryMs = Math.min(this.#retryMs * 2, interval, this.#ttlMs > 0 ? Math.floor(this.#ttlMs / 3) : interval)
    }
    if (!this.#running) return
    this.#timer = setTimeout(() => { this.#beating = this.#beat() }, next)
  }
}

/** Most a relay's `retryAfterMs` is honoured for: an hour (a relay must not silence a farmer for good). */
const MAX_RETRY_AFTER_MS = 3_600_000

/** The `retryAfterMs` a `BUSY` refusal carries, else 0. */
function retryAfter (err: unknown): number {
  const e = err as { code?: unknown, details?: { retryAfterMs?: unknown } }
  const ms = e.code === 'BUSY' ? e.details?.retryAfterMs : undefined
  return typeof ms === 'number' && Number.isFinite(ms) && ms > 0 ? Math.min(ms, MAX_RETRY_AFTER_MS) : 0
}

/** Consecutive failed announces after which a relay is swapped for a spare one, when there is a spare. */
export const FAILOVER_AFTER = 3

/** Options of `AnnouncerSet`: those of `Announcer`, with a list of relays instead of one. */
export interface AnnouncerSetInit extends Omit<AnnouncerInit, 'relay' | 'onResult'> {
  /** Relays known, in order of preference; the first `targets` are announced to, the rest are spares. */
  relays: Array<string | Multiaddr>
  /** Relays to stay listed on at once. @default every relay given */
  targets?: number
  /** @default FAILOVER_AFTER */
  failoverAfter?: number
  /** Called after each attempt on each relay, for logs and metrics. @default ignore */
  onResult?: (relay: string, result: { ok: true, ttlMs: number } | { ok: false, err: Error }) => void
}

/**
 * Keeps one farmer listed on several relays: one `Announcer` each, running on their own, so a relay
 * that is down costs nothing on the others. A relay that failed `failoverAfter` times in a row is
 * replaced by a spare (a known relay not announced to), and goes to the end of the spares.
 */
export class AnnouncerSet {
  readonly #components: ConstructorParameters<typeof Announcer>[0]
  readonly #init: AnnouncerSetInit
  readonly #active = new Map<string, { announcer: Announcer, failures: number }>()
  readonly #spares: string[]
  #running = false
  /** Announcers stopped by a failover, counted in `ok`/`failed` still. */
  #retired = { ok: 0, failed: 0 }

  constructor (components: ConstructorParameters<typeof Announcer>[0], init: AnnouncerSetInit) {
    const relays = [...new Set(init.relays.map(String))]
    if (relays.length === 0) throw new TypeError('AnnouncerSet needs at least one relay')
    this.#components = components
    this.#init = init
    const targets = Math.max(1, Math.min(init.targets ?? relays.length, relays.length))
    this.#spares = relays.slice(targets)
    for (const r of relays.slice(0, targets)) this.#active.set(r, { announcer: this.#announcer(r), failures: 0 })
  }

  /** The relays announced to now. */
  get relays (): string[] {
    return [...this.#active.keys()]
  }

  /** Successful announces so far, on every relay. */
  get ok (): number {
    return this.#retired.ok + [...this.#active.values()].reduce((n, a) => n + a.announcer.ok, 0)
  }

  /** Failed announces so far, on every relay. */
  get failed (): number {
    return this.#retired.failed + [...this.#active.values()].reduce((n, a) => n + a.announcer.failed, 0)
  }

  /** Announces to every relay at once (a down relay only retries) and starts their heartbeats. */
  async start (): Promise<void> {
    this.#running = true
    await Promise.all([...this.#active.values()].map(async a => { await a.announcer.start() }))
  }

  /** Stops every heartbeat and leaves every relay. */
  async stop (): Promise<void> {
    this.#running = false
    await Promise.all([...this.#active.values()].map(async a => { await a.announcer.stop() }))
  }

  #announcer (relay: string): Announcer {
    return new Announcer(this.#components, {
      ...this.#init, relay,
      onResult: (r) => {
        this.#init.onResult?.(relay, r)
        const a = this.#active.get(relay)
        if (a === undefined) return
        a.failures = r.ok ? 0 : a.failures + 1
        if (!r.ok && a.failures >= (this.#init.failoverAfter ?? FAILOVER_AFTER)) this.#failover(relay)
      }
    })
  }

  /** Swaps `relay` for the first spare, if any. */
  #failover (relay: string): void {
    const spare = this.#spares.shift()
    const old = this.#active.get(relay)
    if (spare === undefined || old === undefined || !this.#running) { if (spare !== undefined) this.#spares.unshift(spare); return }
    this.#active.delete(relay)
    this.#spares.push(relay)
    this.#retired.ok += old.announcer.ok
    this.#retired.failed += old.announcer.failed
    void old.announcer.stop()
    const next = { announcer: this.#announcer(spare), failures: 0 }
    this.#active.set(spare, next)
    void next.announcer.start()
  }
}
