import { LightFarmer } from '../../farmer/light.browser.ts'
import { InsecureGridError, NoGridError, OfflineError } from '../../net/errors.ts'
import { StoreEvictedError } from '../../stores/idb-schema.ts'
import { loadFarmerKey } from '../lib/farmer-key.ts'
import { handleError, type HumanError } from '../lib/handle-error.ts'
import { session } from './session.svelte.ts'

const SETTINGS = 'shardfarm.farm'
const VERSION = '0.3.0' // the package's (package.json); the page has no file system to read it from
/** The IndexedDB database of this browser's farm. */
const FARM_DB = 'shardfarm-farm'

interface FarmSettings { on: boolean, quota: number, region: string }

/**
 * Light farming, as state: what this browser offers the grid and what its light farmer (assembled
 * in `farmer/light.browser.ts`) has stored and served. The choice persists, so farming resumes
 * after a reload.
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
  #farmer: LightFarmer | undefined
  #starting = false
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
    if (this.#farmer !== undefined || this.#starting) return
    this.#starting = true
    this.error = undefined
    this.on = true
    this.#save()
    try {
      if (!await session.connect()) throw session.status === 'no-grid' ? new NoGridError() : session.status === 'insecure' ? new InsecureGridError() : new OfflineError()
      const farmer = this.#farmer = await LightFarmer.start({
        relay: session.relay, relays: session.directory?.relays ?? session.relays, privateKey: await loadFarmerKey(), database: FARM_DB, quota: this.quota, region: this.region, version: VERSION,
        onEvicted: () => { this.evicted = true; this.error = handleError(new StoreEvictedError(FARM_DB)) },
        onListed: ok => { this.listed = ok }
      })
      void farmer.store.persist().then(granted => { this.persisted = granted })
      this.peerId = farmer.libp2p.peerId.toString()
      this.#timer = setInterval(() => { void this.refresh() }, 2000)
      await this.refresh()
    } catch (err) {
      this.error = handleError(err)
      await this.stop(false)
    } finally {
      this.#starting = false
    }
  }

  /** Stops serving; `forget` also turns the persisted choice off. */
  async stop (forget = true): Promise<void> {
    clearInterval(this.#timer)
    await this.#farmer?.stop()
    this.#farmer = undefined
    this.listed = false
    if (forget) { this.on = false; this.#save() }
  }

  async refresh (): Promise<void> {
    const farmer = this.#farmer
    if (farmer === undefined) return
    if (await farmer.store.evicted()) { this.evicted = true; return }
    const st = await farmer.store.stat()
    this.used = st.used
    this.capacity = st.capacity
    this.count = st.count
    this.addrs = farmer.libp2p.getMultiaddrs().map(String)
    const m = farmer.metrics.snapshot()
    this.served = m.succeeded.GET ?? 0; this.servedBytes = m.getBytes; this.readers = m.readers
  }

  setQuota (bytes: number): void {
    this.quota = bytes
    this.#save()
  }

  get metricsText (): string {
    return this.#farmer?.metrics.render() ?? ''
  }
}

export const farm = new Farm()
