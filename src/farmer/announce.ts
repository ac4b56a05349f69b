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
