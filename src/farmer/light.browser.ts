/**
 * A light farmer in the page, assembled: this browser offers part of its IndexedDB quota to the
 * grid. Its own libp2p node (a persistent identity, reachable over WebRTC through the relay's
 * signalling) serves the fragment protocol from an `IdbFragmentStore`, and heartbeats to the
 * directory once the relay gave it a reachable address. The full farmer in Node is `full.node.ts`.
 * Stop order as there: leave the directory, stop serving, then close the store.
 */
import type { Libp2p, PrivateKey } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { NoRelayReservationError } from '../net/errors.ts'
import { createBrowserLibp2p } from '../net/libp2p.browser.ts'
import { IdbFragmentStore } from '../stores/idb.ts'
import { Announcer } from './announce.ts'
import type { FarmerMetrics } from './metrics.ts'
import { AuditService } from './audit-service.ts'
import { FarmerService } from './service.ts'

/** What a light farmer is started with. */
export interface LightFarmerInit {
  /** The relay that signals for it and lists it. */
  relay: string
  /** Its identity, kept by the page so the peer id (and the fragments' holder id) survive reloads. */
  privateKey: PrivateKey
  /** The IndexedDB database of its fragments. */
  database: string
  /** Payload bytes it accepts. */
  quota: number
  region: string
  version: string
  /** The browser cleared the store under it. */
  onEvicted?: () => void
  /** Whether the directory took its last heartbeat. */
  onListed?: (listed: boolean) => void
}

/** How long the relay may take to give the page a `/p2p-circuit/webrtc` address. */
const RESERVATION_WAIT_MS = 20_000

export class LightFarmer {
  readonly libp2p: Libp2p
  readonly store: IdbFragmentStore
  readonly #service: FarmerService
  readonly #audits: AuditService
  readonly #announcer: Announcer

  private constructor (libp2p: Libp2p, store: IdbFragmentStore, service: FarmerService, audits: AuditService, announcer: Announcer) {
    this.libp2p = libp2p
    this.store = store
    this.#service = service
    this.#audits = audits
    this.#announcer = announcer
  }

  /** Opens the store, starts serving and joins the directory; undoes what it did if any step fails. */
  static async start (init: LightFarmerInit): Promise<LightFarmer> {
    const store = await IdbFragmentStore.open(init.database, { quota: init.quota, ...(init.onEvicted !== undefined ? { onEvicted: init.onEvicted } : {}) })
    let libp2p: Libp2p | undefined
    let service: FarmerService | undefined
    let audits: AuditService | undefined
    try {
      libp2p = await createBrowserLibp2p({ privateKey: init.privateKey, listen: true })
      await libp2p.dial(multiaddr(init.relay))
      service = new FarmerService({ libp2p, store }, { region: init.region, tier: 'live', kind: 'light', version: init.version })
      await service.start()
      audits = new AuditService({ libp2p, store })
      await audits.start()
      await waitForCircuitAddress(libp2p)
      const announcer = new Announcer({ libp2p, privateKey: init.privateKey, stat: async () => await store.stat() },
        { relay: init.relay, region: init.region, tier: 'live', kind: 'light', version: init.version, onResult: r => { init.onListed?.(r.ok) } })
      await announcer.start()
      return new LightFarmer(libp2p, store, service, audits, announcer)
    } catch (err) {
      await audits?.stop().catch(() => {})
      await service?.stop().catch(() => {})
      await Promise.resolve(libp2p?.stop()).catch(() => {})
      await Promise.resolve(store.close()).catch(() => {})
      throw err
    }
  }

  get metrics (): FarmerMetrics {
    return this.#service.metrics
  }

  async stop (): Promise<void> {
    await this.#announcer.stop().catch(() => {})
    await this.#audits.stop().catch(() => {})
    await this.#service.stop().catch(() => {})
    await Promise.resolve(this.libp2p.stop()).catch(() => {})
    await Promise.resolve(this.store.close()).catch(() => {})
  }
}

/** The relay reservation gives the page a `/p2p-circuit/webrtc` address: wait for it. */
async function waitForCircuitAddress (libp2p: Libp2p): Promise<void> {
  for (const end = Date.now() + RESERVATION_WAIT_MS; Date.now() < end;) {
    if (libp2p.getMultiaddrs().some(a => a.toString().includes('/webrtc'))) return
    await new Promise(resolve => setTimeout(resolve, 250))
  }
  throw new NoRelayReservationError()
}
