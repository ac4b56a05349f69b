import type { Libp2p } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { createBrowserLibp2p } from '../../net/libp2p.browser.ts'
import { FarmerService } from '../../farmer/service.ts'
import { Announcer } from '../../farmer/announce.ts'
import { NoGridError, NoRelayReservationError, OfflineError } from '../../net/errors.ts'
import { IdbFragmentStore } from '../../stores/idb.ts'
import { StoreEvictedError } from '../../stores/idb-schema.ts'
import { loadFarmerKey } from '../lib/farmer-key.ts'
import { handleError, type HumanError } from '../lib/handle-error.ts'
import { session } from './session.svelte.ts'

const SETTINGS = 'shardfarm.farm'
const VERSION = '0.1.0'
/** The IndexedDB database of this browser's farm. */
const FARM_DB = 'shardfarm-farm'

interface FarmSettings { on: boolean, quota: number, region: string }

/**
 * Light farming: this browser offers part of its IndexedDB quota to the grid. It runs its own
 * libp2p node (a persistent identity, reachable over WebRTC through the relay's signalling),
 * serves the fragment protocol from an `IdbFragmentStore`, and heartbeats to the directory.
 * The choice persists, so farming resumes after a reload.
 */
export class Farm {
  on = $state(false)
  quota = $state(256 * 1024 * 1024)
  region = $state('browser')
  used = $state(0)
  count = $state(0)
  peerId = $state('')
  addrs = $state<string[]>([])
  listed = $state(false)
  /** Fragments served to readers (GETs answered) since farming started in this page. */
  served = $state(0)
  /** Fragment bytes sent to readers. */
  servedBytes = $state(0)
  /** Distinct peers that fetched fragments from this farm. */
  readers = $state(0)
  evicted = $state(false)
  /** The browser's answer to `navigator.storage.persist()`; undefined until asked. */
  persisted = $state<boolean | undefined>(undefined)
  /** Bytes this origin may still store (`navigator.storage.estimate()`: quota − usage), if known. */
  available = $state<number | undefined>(undefined)
  /** The quota the running store enforces (its `stat().capacity`). */
  capacity = $state(0)
  error = $state<HumanError | undefined>(undefined)
  #libp2p: Libp2p | undefined
  #service: FarmerService | undefined
  #announcer: Announcer | undefined
  #store: IdbFragmentStore | undefined
  #timer: ReturnType<typeof setInterval> | undefined

  constructor () {
    const saved = JSON.parse(globalThis.localStorage?.getItem(SETTINGS) ?? 'null') as FarmSettings | null
    if (saved !== null) { this.quota = saved.quota; this.region = saved.region }
    if (saved?.on === true) queueMicrotask(() => { void this.start() })
    void this.estimate()
  }

  /** Reads how much this browser will still let the page store, to bound the offer. */
  async estimate (): Promise<void> {
    const e = await globalThis.navigator?.storage?.estimate?.().catch(() => undefined)
    if (e?.quota !== undefined) this.available = Math.max(0, e.quota - (e.usage ?? 0))
  }

  #save (): void {
    localStorage.setItem(SETTINGS, JSON.stringify({ on: this.on, quota: this.quota, region: this.region }))
  }

  async start (): Promise<void> {
    if (this.#libp2p !== undefined) return
    this.error = undefined
    this.on = true
    this.#save()
    try {
      if (!await session.connect()) throw session.status === 'no-grid' ? new NoGridError() : new OfflineError()
      this.#store = await IdbFragmentStore.open(FARM_DB, { quota: this.quota, onEvicted: () => { this.evicted = true; this.error = handleError(new StoreEvictedError(FARM_DB)) } })
      void this.#store.persist().then(granted => { this.persisted = granted })
      const privateKey = await loadFarmerKey()
      this.#libp2p = await createBrowserLibp2p({ privateKey, listen: true })
      this.peerId = this.#libp2p.peerId.toString()
      await this.#libp2p.dial(multiaddr(session.relay))
      this.#service = new FarmerService({ libp2p: this.#libp2p, store: this.#store }, { region: this.region, tier: 'live', kind: 'light', version: VERSION })
      await this.#service.start()
      await this.#waitForCircuitAddress()
      const store = this.#store
      this.#announcer = new Announcer({ libp2p: this.#libp2p, privateKey, stat: async () => await store.stat() },
        { relay: session.relay, region: this.region, tier: 'live', kind: 'light', version: VERSION, onResult: r => { this.listed = r.ok } })
      await this.#announcer.start()
      this.#timer = setInterval(() => { void this.refresh() }, 2000)
      await this.refresh()
    } catch (err) {
      this.error = handleError(err)
      await this.stop(false)
    }
  }

  /** Stops serving; `forget` also turns the persisted choice off. */
  async stop (forget = true): Promise<void> {
    clearInterval(this.#timer)
    await this.#announcer?.stop().catch(() => {})
    await this.#service?.stop().catch(() => {})
    await Promise.resolve(this.#libp2p?.stop()).catch(() => {})
    await Promise.resolve(this.#store?.close()).catch(() => {})
    this.#announcer = undefined; this.#service = undefined; this.#libp2p = undefined; this.#store = undefined
    this.listed = false
    if (forget) { this.on = false; this.#save() }
  }

  async refresh (): Promise<void> {
    if (this.#store === undefined) return
    if (await this.#store.evicted()) { this.evicted = true; return }
    const st = await this.#store.stat()
    this.used = st.used
    this.capacity = st.capacity
    this.count = st.count
    this.addrs = this.#libp2p?.getMultiaddrs().map(String) ?? []
    const m = this.#service?.metrics.snapshot()
    if (m !== undefined) { this.served = m.succeeded.GET ?? 0; this.servedBytes = m.getBytes; this.readers = m.readers }
  }

  setQuota (bytes: number): void {
    this.quota = bytes
    this.#save()
  }

  /** The relay reservation gives this browser a `/p2p-circuit/webrtc` address; wait for it (≤ 20 s). */
  async #waitForCircuitAddress (): Promise<void> {
    for (let i = 0; i < 80; i++) {
      if (this.#libp2p?.getMultiaddrs().some(a => a.toString().includes('/webrtc')) === true) return
      await new Promise(resolve => setTimeout(resolve, 250))
    }
    throw new NoRelayReservationError()
  }

  get metricsText (): string {
    return this.#service?.metrics.render() ?? ''
  }
}

export const farm = new Farm()
