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
import { AnnouncerSet } from './announce.ts'
import type { FarmerMetrics } from './metrics.ts'
import { AuditService } from './audit-service.ts'
import { FarmerService } from './service.ts'

/** What a light farmer is started with. */
export interface LightFarmerInit {
  /** The relay that signals for it and lists it. */
  relay: string
  /**
   * More relays of the same grid: it holds reservations on (and is listed by) the first
   * LIGHT_RELAYS of `relay` and these, and moves to another when one fails. @default none
   */
  relays?: string[]
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

/** Relays a light farmer holds a reservation on at once, when that many are known. */
export const LIGHT_RELAYS = 2

/** How long the relay may take to give the page a `/p2p-circuit/webrtc` address. */
const RESERVATION_WAIT_MS = 20_000

export class LightFarmer {
  readonly libp2p: Libp2p
  readonly store: IdbFragmentStore
  readonly #service: FarmerService
  readonly #audits: AuditService
  readonly #announcer: AnnouncerSet

  private constructor (libp2p: Libp2p, store: IdbFragmentStore, service: FarmerService, audits: AuditService, announcer: AnnouncerSet) {
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
      const relays = [...new Set([init.relay, ...(init.relays ?? [])])]
      const held = relays.slice(0, LIGHT_RELAYS)
      // One `/p2p-circuit` listen address per reservation: libp2p reserves on that many of the
      // relays it is connected to.
      libp2p = await createBrowserLibp2p({ privateKey: init.privateKey, listen: [...held.map(() => '/p2p-circuit'), '/webrtc'] })
      const node = libp2p
      // Reachable through any one relay is reachable: a dead second relay must not stop the farm.
      await Promise.any(held.map(async r => await node.dial(multiaddr(r))))
      service = new FarmerService({ libp2p, store }, { region: init.region, tier: 'live', kind: 'light', version: init.version })
      await service.start()
      audits = new AuditService({ libp2p, store, metrics: service.metrics })
      await audits.start()
      await waitForCircuitAddress(libp2p)
      // Listed while any relay took its last heartbeat.
      const lastOk = new Map<string, boolean>()
      const announcer = new AnnouncerSet({ libp2p, privateKey: init.privateKey, stat: async () => await store.stat() },
        { relays, targets: LIGHT_RELAYS, region: init.region, tier: 'live', kind: 'light', version: init.version, onResult: (relay, r) => { lastOk.set(relay, r.ok); init.onListed?.([...lastOk.values()].some(Boolean)) } })
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
