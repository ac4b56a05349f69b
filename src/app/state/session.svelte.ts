import type { Libp2p } from '@libp2p/interface'
import type { CodecPool } from '../../codec/pool.ts'
import type { Libp2pTransport, RelayDirectory } from '../../client/adapters/libp2p-ports.ts'
import type { ClientPorts, Farmer } from '../../client/ports.ts'
import { browserPorts, createBrowserCoder, findRelay, relayDirectory, saveRelay, startBrowserGrid, type BrowserGrid } from '../../client/session.browser.ts'
import { NoGridError, OfflineError } from '../../net/errors.ts'

export type SessionStatus = 'idle' | 'connecting' | 'online' | 'offline' | 'no-grid'

/** The ports of a connected page. */
export type SessionPorts = ClientPorts & { transport: Libp2pTransport, directory: RelayDirectory, coder: CodecPool }

/**
 * The page's connection to the grid, as state: its status, relay, the farmers the directory lists
 * and the throughput graph. The client itself is assembled in `client/session.browser.ts`. Finds
 * the relay from (in order) the `relay` setting, then `/grid.json` (the local grid that `npm start`
 * runs). Goes `offline` with the browser and reconnects when it comes back.
 */
export class Session {
  status = $state<SessionStatus>('idle')
  relay = $state<string>('')
  farmers = $state<Farmer[]>([])
  /** Bytes/s sent and received, last 60 samples (one per second), for the Network view's graph. */
  throughput = $state<Array<{ t: number, up: number, down: number }>>([])
  #grid: BrowserGrid | undefined
  directory: RelayDirectory | undefined
  readonly coder: CodecPool
  #ready: Promise<void> | undefined
  #timer: ReturnType<typeof setInterval> | undefined
  #sampler: ReturnType<typeof setInterval> | undefined
  #lastSent = 0
  #lastReceived = 0

  constructor () {
    this.coder = createBrowserCoder()
    globalThis.addEventListener?.('online', () => { void this.connect() })
    globalThis.addEventListener?.('offline', () => { void this.probe() })
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
    this.status = 'connecting'
    try {
      this.relay = await findRelay()
    } catch {
      // No relay address at all: with the network down that is "offline", else there is no grid.
      this.status = globalThis.navigator?.onLine === false ? 'offline' : 'no-grid'
      return
    }
    try {
      this.#grid ??= await startBrowserGrid()
      this.#sampler ??= setInterval(() => { this.#sample() }, 1000)
      this.directory = relayDirectory(this.#grid, this.relay)
      await this.refreshFarmers()
      this.status = 'online'
      this.#timer ??= setInterval(() => { void this.refreshFarmers().then(() => { this.status = 'online' }, () => { this.status = 'offline' }) }, 5000)
    } catch {
      // The relay is known but did not answer: the grid is out of reach, which is what offline means here.
      this.status = 'offline'
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
    this.throughput = [...this.throughput.slice(-59), { t: Date.now(), up, down }]
  }

  /** Re-checks the grid after a failure; false (and status offline) when it cannot be reached. */
  async probe (): Promise<boolean> {
    try {
      await this.refreshFarmers()
      this.status = 'online'
      return true
    } catch {
      this.status = 'offline'
      return false
    }
  }

  /** Stops polling the directory and closes the connection (tests and page teardown). */
  async close (): Promise<void> {
    clearInterval(this.#timer)
    clearInterval(this.#sampler)
    this.#timer = undefined
    this.#sampler = undefined
    await this.#grid?.libp2p.stop()
  }

  /** Remembers a relay address chosen by the person (empty: back to the local grid). */
  setRelay (addr: string): void {
    saveRelay(addr)
    this.status = 'idle'
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
    if (!await this.connect()) throw this.status === 'no-grid' ? new NoGridError() : new OfflineError()
    return this.ports()
  }

  ports (): SessionPorts {
    if (this.#grid === undefined || this.directory === undefined) throw new OfflineError('Not connected to a grid')
    return browserPorts(this.#grid, this.directory, this.coder)
  }

  /** The page's libp2p node, once connected (the light farmer dials the relay beside it). */
  get libp2p (): Libp2p | undefined {
    return this.#grid?.libp2p
  }
}

export const session = new Session()
