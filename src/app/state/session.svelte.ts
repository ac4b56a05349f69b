import type { Libp2p } from '@libp2p/interface'
import { createBrowserLibp2p } from '../../net/libp2p.browser.ts'
import { createBrowserCodecPool } from '../../codec/pool.browser.ts'
import type { CodecPool } from '../../codec/pool.ts'
import { Libp2pTransport, RelayDirectory } from '../../client/libp2p-ports.ts'
import type { Farmer } from '../../client/ports.ts'

export type SessionStatus = 'idle' | 'connecting' | 'online' | 'offline' | 'no-grid'

const RELAY_KEY = 'shardfarm.relay'

/**
 * The page's connection to the grid: one libp2p node, the codec pool, and the ports the pipelines
 * use. Finds the relay from (in order) the `relay` setting, then `/grid.json` (the local grid that
 * `npm start` runs). Goes `offline` with the browser and reconnects when it comes back.
 */
export class Session {
  status = $state<SessionStatus>('idle')
  relay = $state<string>('')
  farmers = $state<Farmer[]>([])
  /** Bytes/s sent and received, last 60 samples (one per second), for the Network view's graph. */
  throughput = $state<Array<{ t: number, up: number, down: number }>>([])
  libp2p: Libp2p | undefined
  transport: Libp2pTransport | undefined
  directory: RelayDirectory | undefined
  readonly coder: CodecPool
  #ready: Promise<void> | undefined
  #timer: ReturnType<typeof setInterval> | undefined
  #sampler: ReturnType<typeof setInterval> | undefined
  #lastSent = 0
  #lastReceived = 0
  sentBytes = 0
  receivedBytes = 0

  constructor () {
    this.coder = createBrowserCodecPool()
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
      this.libp2p ??= await createBrowserLibp2p()
      this.transport ??= this.#counting(new Libp2pTransport(this.libp2p))
      this.#sampler ??= setInterval(() => { this.#sample() }, 1000)
      this.directory = new RelayDirectory(this.libp2p, this.relay)
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

  /** Counts fragment bytes through the transport, for the throughput graph. */
  #counting (t: Libp2pTransport): Libp2pTransport {
    const put = t.put.bind(t)
    const get = t.get.bind(t)
    t.put = async (f, id, bytes, o) => { await put(f, id, bytes, o); this.sentBytes += bytes.length }
    t.get = async (f, id, o) => { const b = await get(f, id, o); this.receivedBytes += b.length; return b }
    return t
  }

  #sample (): void {
    const up = this.sentBytes - this.#lastSent
    const down = this.receivedBytes - this.#lastReceived
    this.#lastSent = this.sentBytes
    this.#lastReceived = this.receivedBytes
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
    await this.libp2p?.stop()
  }

  /** Remembers a relay address chosen by the person (empty: back to the local grid). */
  setRelay (addr: string): void {
    if (addr.trim() === '') localStorage.removeItem(RELAY_KEY)
    else localStorage.setItem(RELAY_KEY, addr.trim())
    this.status = 'idle'
    void this.connect()
  }

  /** How this page reaches a farmer right now: 'websockets', 'webrtc', or '' when not connected. */
  transportTo (peerId: string): string {
    const conns = this.libp2p?.getConnections().filter(c => c.remotePeer.toString() === peerId) ?? []
    const addr = conns[0]?.remoteAddr.toString() ?? ''
    return addr.includes('/webrtc') ? 'webrtc' : addr.includes('/ws') ? 'websockets' : ''
  }

  /** Connects if need be and returns the ports; throws the offline (or no-grid) error when that fails. */
  async connectedPorts (): Promise<ReturnType<Session['ports']>> {
    if (!await this.connect()) throw Object.assign(new Error('offline'), { name: 'OfflineError', code: this.status === 'no-grid' ? 'NO_GRID' : 'OFFLINE' })
    return this.ports()
  }

  ports (): { transport: Libp2pTransport, directory: RelayDirectory, coder: CodecPool } {
    if (this.transport === undefined || this.directory === undefined) throw Object.assign(new Error('Not connected to a grid'), { name: 'OfflineError', code: 'OFFLINE' })
    return { transport: this.transport, directory: this.directory, coder: this.coder }
  }
}

async function findRelay (): Promise<string> {
  const saved = globalThis.localStorage?.getItem(RELAY_KEY)
  if (saved !== null && saved !== undefined && saved !== '') return saved
  const res = await fetch('/grid.json', { cache: 'no-store' })
  if (!res.ok) throw new Error('no local grid')
  const { relay } = await res.json() as { relay: string }
  return relay
}

export const session = new Session()
