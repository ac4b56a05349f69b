/**
 * The relay process: a libp2p node on WebSockets with a circuit relay v2 server (so browser light
 * farmers can exchange WebRTC signalling), identify, ping, the farmer directory, and gossipsub with
 * the directory sync protocol, by which relays federate (`federation.ts`). The CLI wrapper
 * is `src/cli/relay.ts`; this module only builds and stops the node, so tests and `grid` can run a
 * relay in-process too.
 */
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { circuitRelayServer } from '@libp2p/circuit-relay-v2'
import { gossipsub } from '@libp2p/gossipsub'
import type { Libp2p, PeerId } from '@libp2p/interface'
import { loadOrCreateIdentity, STATE_DIR } from '../src/stores/identity.node.ts'
import { FsKeyValueStore } from '../src/stores/kv/fs.ts'
import { createNodeLibp2p } from '../src/net/libp2p.node.ts'
import { DirectoryService } from '../src/net/protocols/directory.ts'
import type { DirectoryServiceInit } from '../src/net/protocols/directory.ts'
import type { Logger } from '../src/core/logger.ts'
import { AdmissionBook, DEFAULT_VETTING_PERIOD_MS } from './admissions.ts'
import { MemoryDirectoryStore } from './directory-store.ts'
import type { MemoryDirectoryStoreInit } from './directory-store.ts'
import { verifyOffThread } from './ed25519.ts'
import { Federation } from './federation.ts'
import { MAX_GOSSIP_BYTES } from './gossip-records.ts'

/** Reservations a relay grants at once. The library default (15) is far too low for a page full of browsers. */
export const RELAY_MAX_RESERVATIONS = 1024

/** Options of `startRelay`. */
export interface RelayInit {
  /** Directory for the persistent identity. */
  dataDir: string
  /** Listen multiaddrs. @default ['/ip4/127.0.0.1/tcp/0/ws'] */
  listen?: string[]
  /** Serve `wss` with this certificate and key (PEM); see `NodeLibp2pInit.tls`. */
  tls?: { cert: string, key: string }
  /** Addresses to announce instead of the listened ones. */
  announce?: string[]
  /**
   * Directory TTL, bounds and announce budgets. @default MemoryDirectoryStore defaults (30 s TTL,
   * 10 000 entries, 4 announces then 1/s per farmer, 64 new farmers per network a minute)
   */
  directory?: MemoryDirectoryStoreInit
  /** Directory protocol options (page size). @default DirectoryService defaults (512 KiB pages) */
  directoryService?: Pick<DirectoryServiceInit, 'maxPageBytes'>
  /** How long a farmer counts as new after the relay first saw it, in ms. @default DEFAULT_VETTING_PERIOD_MS (24 h) */
  vettingPeriodMs?: number
  /** Tell clients the farmers share a subnet on purpose (a single-host grid). @default false */
  sharedSubnets?: boolean
  /** Circuit relay reservations granted at once. @default RELAY_MAX_RESERVATIONS */
  maxReservations?: number
  /** Multiaddrs (with `/p2p/`) of peer relays to federate with, kept dialed. @default none */
  peers?: string[]
  /** How often the relay republishes its signed record of itself, in ms. @default RELAY_RECORD_EVERY_MS */
  relayRecordEveryMs?: number
  /**
   * List a full farmer only once the relay has dialed it back at an address of its record
   * (`DirectoryServiceInit.dialBack`). Off only in tests whose records name made-up addresses. @default true
   */
  dialBack?: boolean
  /** Where to log. */
  log: Logger
}

/** A running relay. */
export interface Relay {
  libp2p: Libp2p
  directory: MemoryDirectoryStore
  /** When each farmer was first seen (persisted in the data directory). */
  admissions: AdmissionBook
  /** Gossip, sync and the federation's relay list. */
  federation: Federation
  /** The first listen address with `/p2p/<id>`: what farmers and browsers are given. */
  addr: string
  /** Stops the directory and libp2p. Idempotent. */
  stop: () => Promise<void>
}

/** Starts a relay. */
export async function startRelay (init: RelayInit): Promise<Relay> {
  await mkdir(init.dataDir, { recursive: true })
  const privateKey = await loadOrCreateIdentity(init.dataDir)
  const libp2p = await createNodeLibp2p({
    privateKey,
    listen: init.listen ?? ['/ip4/127.0.0.1/tcp/0/ws'],
    ...(init.tls !== undefined ? { tls: init.tls } : {}),
    ...(init.announce !== undefined ? { announce: init.announce } : {}),
    // Every browser holding a reservation keeps a connection, so room for all of them and the
    // farmers; per-IP caps as everywhere (see connection-limits.ts), and at most 256 reservations
    // held by the peers of one IP, so one host with many peer ids cannot take all 1024.
    connectionLimits: { maxConnections: 2048, reservationsPerIp: 256 },
    services: {
      relay: circuitRelayServer({
        reservations: {
          maxReservations: init.maxReservations ?? RELAY_MAX_RESERVATIONS,
          // A reservation outlives its connection until it expires: 15 min instead of 2 h, so the
          // slots of peers gone away come back soon (clients refresh 5 min before expiry, i.e.
          // every 10 min), swept every minute instead of every 5.
          reservationTtl: 15 * 60_000,
          reservationClearInterval: 60_000,
          // Keep the default limits (2 min, 128 KiB per relayed connection): relayed connections
          // carry WebRTC signalling only, and fragments travel on the direct WebRTC connection.
          applyDefaultLimit: true,
          defaultDurationLimit: 2 * 60_000,
          defaultDataLimit: 128n * 1024n
        }
        // Hop and stop streams keep the library's per-connection bounds (32 inbound hop streams,
        // each open as long as its relayed connection) and its 30 s hop request timeout.
      }),
      // Directory records between relays. An RPC may batch many messages, but never needs more than
      // a few hundred of them at once; each message is checked against MAX_GOSSIP_BYTES in the validator.
      pubsub: gossipsub({
        allowPublishToZeroTopicPeers: true,
        emitSelf: false,
        maxInboundDataLength: 256 * MAX_GOSSIP_BYTES,
        // A relay accepts records only from their originator's signed messages (federation.ts).
        globalSignaturePolicy: 'StrictSign'
      })
    }
  })
  // libp2p keeps a record (addresses, protocols, keys) of every peer that ever connected, for hours,
  // and evicts one only when it is read. A relay meets a fresh identity with every CLI command and
  // page: under churn that grew its memory without bound (136 → 191 MiB in a 10-minute soak). It
  // dials farmers back only to check their addresses, and the
  // directory keeps its own farmer records, so a peer is forgotten as soon as its last connection closes.
  const forget = ({ detail: peer }: CustomEvent<PeerId>): void => { void libp2p.peerStore.delete(peer).catch(() => {}) }
  libp2p.addEventListener('peer:disconnect', forget)
  const directory = new MemoryDirectoryStore(init.directory)
  directory.start()
  const admissions = await AdmissionBook.open({
    key: privateKey,
    store: new FsKeyValueStore(join(init.dataDir, STATE_DIR)),
    vettingPeriodMs: init.vettingPeriodMs ?? DEFAULT_VETTING_PERIOD_MS,
    onError: err => { init.log.warn('admission table not saved', { err }) }
  })
  const federation = new Federation({
    libp2p, key: privateKey, store: directory, log: init.log, peers: init.peers ?? [],
    ...(init.relayRecordEveryMs !== undefined ? { relayRecordEveryMs: init.relayRecordEveryMs } : {})
  })
  const service = new DirectoryService({ libp2p, registry: directory, admissions, federation }, {
    ...init.directoryService,
    sharedSubnets: init.sharedSubnets === true,
    dialBack: init.dialBack ?? true,
    verify: verifyOffThread,
    onError: (err, peer) => { init.log.debug('directory request refused', { peer, err }) }
  })
  await service.start()
  await federation.start()
  const addr = libp2p.getMultiaddrs()[0]?.toString()
  if (addr === undefined) throw new Error('relay has no listen address')

  let stopping: Promise<void> | undefined
  const stop = async (): Promise<void> => {
    stopping ??= (async () => {
      directory.stop()
      await federation.stop()
      libp2p.removeEventListener('peer:disconnect', forget)
      await service.stop().catch(() => {})
      await libp2p.stop()
      await admissions.stop()
    })()
    await stopping
  }
  return { libp2p, directory, admissions, federation, addr, stop }
}
