import type { Libp2p } from '@libp2p/interface'
import type { Ping } from '@libp2p/ping'
import { multiaddr } from '@multiformats/multiaddr'
import type { CodecPool } from '../../codec/pool.ts'
import type { Libp2pTransport } from '../../client/adapters/libp2p-ports.ts'
import type { RelaySetDirectory } from '../../client/adapters/relay-set.ts'
import type { ClientPorts, Farmer } from '../../client/ports.ts'
import type { ScoreBook } from '../../client/score-book.ts'
import { browserPorts, browserScores, createBrowserCoder, findRelays, relayDirectory, saveRelay, startBrowserGrid, type BrowserGrid } from '../../client/session.browser.ts'
import { appStore } from '../lib/app-store.ts'
import { InsecureGridError, NoGridError, OfflineError } from '../../net/errors.ts'

export type SessionStatus = 'idle' | 'connecting' | 'online' | 'offline' | 'no-grid' | 'insecure'

/** How often the page checks that the relay still answers. */
export const LIVENESS_INTERVAL_MS = 2000
/**
 * How long the relay may take to answer a liveness ping. A lost network is usually silent (no
 * close, no answer), so only a deadline notices it: interval + deadline bound how long the page
 * may believe a dead grid is there (5 s). The relay's connection carries no fragment data, so its
 * answers do not queue behind an upload's bytes; a page too busy to read them in time is covered
 * by the traffic check in `ping`.
 */
export const LIVENESS_DEADLINE_MS = 3000

/** The ports of a connected page. */
export type SessionPorts = ClientPorts & { transport: Libp2pTransport, directory: RelaySetDirectory, coder: CodecPool }

/** User Timing marks around the first directory query of a connection (`performance.measure` between them). */
export const DIRECTORY_MARKS = { asked: 'shardfarm:directory-asked', answered: 'shardfarm:directory-answered' } as const

/** Relays a liveness ping tries at once: the grid is there while any of them answers. */
const PING_RELAYS = 3

/**
 * The page's connection to the grid, as state: its status, relays, the farmers the directory lists
 * and the throughput graph. The client itself is assembled in `client/session.browser.ts`. Finds
 * the relays from (in order) the `relay` setting (one or more), then `/grid.json` (the local grid
 * that `npm start` runs); the directory asks one and, after a few hundred ms without an answer, the
 * next as well. A liveness ping to the relays (any one answering will do) (`LIVENESS_INTERVAL_MS`, `LIVENESS_DEADLINE_MS`) notices a
 * lost grid within seconds, even a silent one; the browser's `offline` event only asks for an
 * early ping (a grid on this machine is reachable with no network at all). Listeners of
 * `onStatus` hear every change, so uploads in flight can move to the outbox at once.
 */
export class Session {
  status = $state<SessionStatus>('idle')
  /** The first relay given (the one shown). */
  relay = $state<string>('')
  /** Every relay given, in order. */
  relays = $state<string[]>([])
  farmers = $state<Farmer[]>([])
  /** Bytes/s sent and received, last 60 samples (one per second), for the Network view's graph. */
  throughput = $state<Array<{ t: number, up: number, down: number }>>([])
  #grid: BrowserGrid | undefined
  /** This page's audit scores of farmers (IndexedDB), loaded on the first connection. */
  #scores: ScoreBook | undefined
  directory: RelaySetDirectory | undefined
  readonly coder: CodecPool
  #ready: Promise<void> | undefined
  #timer: ReturnType<typeof setInterval> | undefined
  #sampler: ReturnType<typeof setInterval> | undefined
  #lastSent = 0
  #lastReceived = 0
  #liveness: ReturnType<typeof setInterval> | undefined
  #pinging = false
  /** When fragment bytes last moved (`#sample`): farmers answering is proof enough of a grid. */
  #lastTraffic = 0
  readonly #listeners = new Set<(status: SessionStatus) => void>()

  constructor () {
    this.coder = createBrowserCoder()
    globalThis.addEventListener?.('online', () => { void this.connect() })
    globalThis.addEventListener?.('offline', () => { void this.ping() })
  }

  /** Calls `fn` on every status change; returns the function that stops it. */
  onStatus (fn: (status: SessionStatus) => void): () => void {
    this.#listeners.add(fn)
    return () => { this.#listeners.delete(fn) }
  }

  #set (status: SessionStatus): void {
    if (this.status === status) return
    this.status = status
    for (const fn of this.#listeners) fn(status)
  }

  /**
   * Pings the relay with a short deadline: true (and online) when it answers, false (and offline)
   * when not. Safe to call often; one ping at a time.
   */
  async ping (): Promise<boolean> {
    const libp2p = this.#grid?.libp2p
    if (libp2p === undefined || this.relay === '' || this.#pinging) return this.status === 'online'
    this.#pinging = true
    try {
      const ping = (libp2p.services as { ping?: Ping }).ping
      if (ping === undefined) return this.status === 'online'
      const signal = AbortSignal.timeout(LIVENESS_DEADLINE_MS)
      const relays = (this.directory?.relays ?? this.relays).slice(0, PING_RELAYS)
      await Promise.any(relays.map(async r => await ping.ping(multiaddr(r), { signal })))
      if (this.status === 'offline') {
        // Back: fetch the farmer list before saying so, so that an upload started now finds it.
        await this.refreshFarmers().catch(() => {})
      }
      this.#set('online')
      return true
    } catch {
      // A page busy sending fragments can answer a ping late (its main thread runs the encryption of
      // every connection): while farmers keep taking bytes the grid is there, whatever the relay says.
      if (performance.now() - this.#lastTraffic < LIVENESS_INTERVAL_MS + LIVENESS_DEADLINE_MS) return true
      if (this.status === 'online' || this.status === 'offline') this.#set('offline')
      return false
    } finally {
      this.#pinging = false
    }
  }

  /**
   * Connects (once; later calls wait for the same attempt). Resolves false when offline or no grid.
   * `navigator.onLine` is only a hint: a grid on this machine is reachable with no network at all,
   * so the attempt is always made, and only its failure decides.
   */
  async connect (): Promise<boolean> {
    if (this.status === 'online') return true
    this.#ready ??= this.#connect().finally(() => { this.#ready = undefined })
    await this.#ready
    // Read again after the await: #connect changed it (TypeScript's narrowing cannot see that).
    return (this.status as SessionStatus) === 'online'
  }

  async #connect (): Promise<void> {
    this.#set('connecting')
    try {
      this.relays = await findRelays()
      this.relay = this.relays[0]!
    } catch {
      // No relay address at all: with the network down that is "offline", else there is no grid.
      this.#set(globalThis.navigator?.onLine === false ? 'offline' : 'no-grid')
      return
    }
    try {
      this.#grid ??= await startBrowserGrid()
      this.#scores ??= await browserScores(await appStore()).catch(() => undefined)
      this.#sampler ??= setInterval(() => { this.#sample() }, 1000)
      try {
        this.directory = relayDirectory(this.#grid, this.relays)
      } catch (err) {
        // Served over HTTPS with only ws:// relays: no amount of waiting reaches them.
        if ((err as Error).name !== 'InsecureGridError') throw err
        this.#set('insecure')
        return
      }
      performance.mark(DIRECTORY_MARKS.asked)
      await this.refreshFarmers()
      performance.mark(DIRECTORY_MARKS.answered)
      this.#set('online')
      // The farmer list changes slowly; whether the grid is there at all is the ping's to say.
      this.#timer ??= setInterval(() => { if (this.status === 'online') void this.refreshFarmers().catch(() => {}) }, 5000)
      this.#liveness ??= setInterval(() => { void this.ping() }, LIVENESS_INTERVAL_MS)
    } catch {
      // The relay is known but did not answer: the grid is out of reach, which is what offline means here.
      this.#set('offline')
    }
  }

  async refreshFarmers (): Promise<void> {
    if (this.directory === undefined) return
    this.farmers = await this.directory.list({ signal: AbortSignal.timeout(10_000) })
  }

  #sample (): void {
    const { sent, received } = this.#grid?.counts ?? { sent: 0, received: 0 }
    const up = sent - this.#lastSent
    const down = received - this.#lastReceived
    this.#lastSent = sent
    this.#lastReceived = received
    if (up > 0 || down > 0) this.#lastTraffic = performance.now()
    this.throughput = [...this.throughput.slice(-59), { t: Date.now(), up, down }]
  }

  /** Re-checks the grid after a failure; false (and status offline) when it cannot be reached. */
  async probe (): Promise<boolean> {
    if (this.#grid !== undefined && this.relay !== '') return await this.ping()
    try {
      await this.refreshFarmers()
      this.#set('online')
      return true
    } catch {
      this.#set('offline')
      return false
    }
  }

  /** Stops polling the directory and closes the connection (tests and page teardown). */
  async close (): Promise<void> {
    clearInterval(this.#timer)
    clearInterval(this.#sampler)
    clearInterval(this.#liveness)
    this.#timer = undefined
    this.#sampler = undefined
    this.#liveness = undefined
    await this.#grid?.libp2p.stop()
  }

  /** Remembers the relay addresses chosen by the person, one or more (empty: back to the local grid). */
  setRelay (addr: string): void {
    saveRelay(addr)
    this.#set('idle')
    void this.connect()
  }

  /** How this page reaches a farmer right now: 'websockets', 'webrtc', or '' when not connected. */
  transportTo (peerId: string): string {
    const conns = this.#grid?.libp2p.getConnections().filter(c => c.remotePeer.toString() === peerId) ?? []
    const addr = conns[0]?.remoteAddr.toString() ?? ''
    return addr.includes('/webrtc') ? 'webrtc' : addr.includes('/ws') ? 'websockets' : ''
  }

  /** Connects if need be and returns the ports; throws the offline (or no-grid) error when that fails. */
  async connectedPorts (): Promise<SessionPorts> {
    if (!await this.connect()) throw this.status === 'no-grid' ? new NoGridError() : this.status === 'insecure' ? new InsecureGridError() : new OfflineError()
    return this.ports()
  }

  ports (): SessionPorts {
    if (this.#grid === undefined || this.directory === undefined) throw new OfflineError('Not connected to a grid')
    return browserPorts(this.#grid, this.directory, this.coder, this.#scores)
  }

  /** The page's libp2p node, once connected (the light farmer dials the relay beside it). */
  get libp2p (): Libp2p | undefined {
    return this.#grid?.libp2p
  }
}

export const session = new Session()
