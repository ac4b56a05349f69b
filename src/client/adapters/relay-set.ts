import type { Libp2p } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import type { CallOptions, Farmer, FarmerDirectory } from '../ports.ts'
import { InsecureGridError } from '../../net/errors.ts'
import { RelayDirectory, type RelayDirectoryInit } from './libp2p-ports.ts'

/** How long the first relay asked has to answer before a second one is asked too. */
export const RELAY_HEDGE_MS = 300
/** Once one relay answered, how long the others already asked may still add their answers. */
export const RELAY_MERGE_WAIT_MS = 150
/** Most relays one client knows, given and learned together. */
export const MAX_RELAYS = 16
/** How long a relay that failed is asked only after the others. */
const DOWN_MS = 30_000

/** Options of `RelaySetDirectory`. */
export interface RelaySetInit extends RelayDirectoryInit {
  /** @default RELAY_HEDGE_MS */
  hedgeMs?: number
  /** @default RELAY_MERGE_WAIT_MS */
  mergeWaitMs?: number
  /** Told of relays that directory answers named and this set did not know yet (to cache them). @default ignore */
  onLearned?: (relays: string[]) => void
  /**
   * Only addresses this client can dial (a page served over HTTPS: `isSecureAddr`): relays that fail
   * it are never asked, farmers' addresses that fail it are dropped, and a farmer left with none is
   * not listed. @default every address
   */
  addrFilter?: (addr: string) => boolean
}

/** One relay's answer, as `listEach` gives it. */
export interface RelayAnswer {
  relay: string
  farmers?: Farmer[]
  error?: Error
}

/**
 * The directory of a grid with several relays. A query asks one relay and, when it has not
 * answered within `hedgeMs` (or failed), also the next, and so on; the first answer is merged with
 * those of the relays asked beside it that answer within `mergeWaitMs`: one entry per peer id, the
 * newer record (`seq`) winning. A relay that failed is asked last for a while, so a dead first
 * relay costs one hedge, not every query. Relays that answers name (a federation shares its
 * members) are asked after the given ones, never before, and are handed to `onLearned` for the
 * caller's cache. When every relay fails, the last good list is returned (`stale`), as
 * `RelayDirectory` does for one relay.
 */
export class RelaySetDirectory implements FarmerDirectory {
  readonly #libp2p: Libp2p
  readonly #init: RelaySetInit
  readonly #given: RelayDirectory[]
  readonly #learned: RelayDirectory[] = []
  readonly #downUntil = new Map<string, number>()
  #last: Farmer[] | undefined
  /** Which relays listed each farmer in the last answer merged. */
  readonly listedBy = new Map<string, string[]>()
  /** When each farmer was first seen, as the earliest of the relays that listed it says. */
  readonly firstSeen = new Map<string, number>()
  stale = false
  lastError: Error | undefined
  sharedSubnets = false

  constructor (libp2p: Libp2p, relays: readonly string[], init: RelaySetInit = {}) {
    if (relays.length === 0) throw new TypeError('RelaySetDirectory needs at least one relay')
    this.#libp2p = libp2p
    this.#init = init
    const given = [...new Set(relays)].filter(r => init.addrFilter?.(r) ?? true).slice(0, MAX_RELAYS)
    if (given.length === 0) throw new InsecureGridError()
    this.#given = given.map(r => new RelayDirectory(libp2p, r, this.#dirInit(given.length)))
  }

  /** Every relay known, given first. */
  get relays (): string[] {
    return [...this.#given, ...this.#learned].map(d => d.relay)
  }

  /** Adds relays learned elsewhere (a cache), after the given ones; over MAX_RELAYS they are ignored. */
  learn (relays: readonly string[]): string[] {
    const known = new Set(this.relays)
    const added: string[] = []
    for (const r of relays) {
      if (known.has(r) || known.size >= MAX_RELAYS || this.#init.addrFilter?.(r) === false) continue
      try { this.#learned.push(new RelayDirectory(this.#libp2p, r, this.#dirInit(known.size + 1))) } catch { continue }
      known.add(r)
      added.push(r)
    }
    return added
  }

  async list (options: CallOptions = {}): Promise<Farmer[]> {
    try {
      const answers = await this.#ask(options)
      const farmers = this.#dialable(this.#merge(answers))
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

  /** Asks every known relay at once and gives each one's answer or error (for `shardfarm farmers`). */
  async listEach (options: CallOptions = {}): Promise<RelayAnswer[]> {
    const dirs = [...this.#given, ...this.#learned]
    const answers = await Promise.all(dirs.map(async (d): Promise<RelayAnswer> => await this.#one(d, options).then(farmers => ({ relay: d.relay, farmers }), (error: unknown) => ({ relay: d.relay, error: error as Error }))))
    this.#merge(dirs.flatMap((d, i) => { const farmers = answers[i]!.farmers; return farmers !== undefined ? [{ dir: d, farmers }] : [] }))
    return answers
  }

  /**
   * Each relay's directory: a transport failure is not retried on the same relay when there are
   * others (the next one is asked at once instead of after a retry's pause); a lone relay retries.
   */
  #dirInit (relays: number): RelayDirectoryInit {
    return { ...(this.#init.maxFarmers !== undefined ? { maxFarmers: this.#init.maxFarmers } : {}), ...(relays > 1 ? { retries: 0 } : {}) }
  }

  /** One relay's fresh answer: its own fallback to an older list does not count here. */
  async #one (d: RelayDirectory, options: CallOptions): Promise<Farmer[]> {
    try {
      const farmers = await d.list(options)
      if (d.stale) throw d.lastError ?? new Error(`relay ${d.relay} did not answer`)
      this.#downUntil.delete(d.relay)
      const fresh = this.learn(d.learned)
      if (fresh.length > 0) this.#init.onLearned?.(fresh)
      return farmers
    } catch (err) {
      // Cut short because another relay answered first is no sign of a relay being down.
      if (options.signal?.aborted !== true) this.#downUntil.set(d.relay, Date.now() + DOWN_MS)
      throw err
    }
  }

  /** Relays in the order to ask them: given before learned, and those that failed lately last. */
  #order (): RelayDirectory[] {
    const now = Date.now()
    const up = (d: RelayDirectory): boolean => (this.#downUntil.get(d.relay) ?? 0) <= now
    const all = [...this.#given, ...this.#learned]
    return [...all.filter(up), ...all.filter(d => !up(d))]
  }

  /** The hedged query: resolves with the answers gathered, rejects when every relay failed. */
  async #ask (options: CallOptions): Promise<Array<{ dir: RelayDirectory, farmers: Farmer[] }>> {
    const order = this.#order()
    const ctl = new AbortController()
    const signal = options.signal === undefined ? ctl.signal : AbortSignal.any([ctl.signal, options.signal])
    const hedgeMs = this.#init.hedgeMs ?? RELAY_HEDGE_MS
    const mergeWaitMs = this.#init.mergeWaitMs ?? RELAY_MERGE_WAIT_MS
    return await new Promise((resolve, reject) => {
      const answers: Array<{ dir: RelayDirectory, farmers: Farmer[] }> = []
      let next = 0
      let running = 0
      let lastErr: Error | undefined
      let hedge: ReturnType<typeof setTimeout> | undefined
      let merge: ReturnType<typeof setTimeout> | undefined
      let done = false
      const finish = (): void => {
        if (done) return
        done = true
        clearTimeout(hedge)
        clearTimeout(merge)
        ctl.abort() // the relays still being asked: their answers would come too late to count
        if (answers.length > 0) resolve(answers)
        else reject(options.signal?.aborted === true ? (options.signal.reason as Error) : (lastErr ?? new Error('no relay answered')))
      }
      const launch = (): void => {
        clearTimeout(hedge)
        if (done || answers.length > 0 || next >= order.length) return
        const d = order[next++]!
        running++
        hedge = setTimeout(launch, hedgeMs)
        this.#one(d, { signal }).then(farmers => {
          running--
          answers.push({ dir: d, farmers })
          if (running === 0) finish()
          else merge ??= setTimeout(finish, mergeWaitMs)
        }, (err: unknown) => {
          running--
          lastErr = err as Error
          if (done) return
          if (signal.aborted) { finish(); return }
          if (answers.length === 0 && next < order.length) launch()
          else if (running === 0) finish()
        })
      }
      launch()
      // Connect to the next relay meanwhile (no query): if the hedge fires, its query does not
      // wait for a WebSocket, Noise and Yamux handshake first. Cut short once an answer came.
      const second = order[1]
      if (second !== undefined) void Promise.resolve().then(async () => await this.#libp2p.dial(multiaddr(second.relay), { signal })).catch(() => {})
    })
  }

  /** `farmers` with only the addresses `addrFilter` lets through, and without those left with none. */
  #dialable (farmers: Farmer[]): Farmer[] {
    const ok = this.#init.addrFilter
    if (ok === undefined) return farmers
    return farmers.flatMap(f => { const addrs = f.addrs.filter(ok); return addrs.length > 0 ? [{ ...f, addrs }] : [] })
  }

  /** One entry per peer id, the newest record winning; `listedBy` and `firstSeen` say which relays listed whom. */
  #merge (answers: Array<{ dir: RelayDirectory, farmers: Farmer[] }>): Farmer[] {
    const best = new Map<string, { farmer: Farmer, seq: number }>()
    this.listedBy.clear()
    this.firstSeen.clear()
    for (const { dir, farmers } of answers) {
      for (const f of farmers) {
        const d = dir.details.get(f.peerId)
        const seq = d?.seq ?? 0
        const held = best.get(f.peerId)
        if (held === undefined || seq > held.seq) best.set(f.peerId, { farmer: f, seq })
        this.listedBy.set(f.peerId, [...(this.listedBy.get(f.peerId) ?? []), dir.relay])
        if (d?.firstSeen !== undefined) this.firstSeen.set(f.peerId, Math.min(d.firstSeen, this.firstSeen.get(f.peerId) ?? Infinity))
      }
    }
    this.sharedSubnets = answers.length > 0 && answers.every(a => a.dir.sharedSubnets)
    return [...best.values()].map(b => b.farmer)
  }
}
