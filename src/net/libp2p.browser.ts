import { createLibp2p, type Libp2p } from 'libp2p'
import { webSockets } from '@libp2p/websockets'
import { webRTC } from '@libp2p/webrtc'
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { noise } from '@libp2p/noise'
import { yamux } from '@libp2p/yamux'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import type { PrivateKey } from '@libp2p/interface'
import { servedFromPrivateNetwork } from './secure-addr.ts'
import { coalescingWebSocket } from './ws-coalesce.ts'

// @libp2p/websockets dials with the global WebSocket: gather each turn's Noise frames into one
// message instead of two per 64 KiB (see `ws-coalesce.ts`). Once per realm (page or worker).
const COALESCED = Symbol.for('shardfarm.ws-coalesce')
const realm = globalThis as unknown as Record<symbol, boolean> & { WebSocket?: typeof WebSocket }
if (realm.WebSocket !== undefined && realm[COALESCED] !== true) {
  realm[COALESCED] = true
  realm.WebSocket = coalescingWebSocket(realm.WebSocket)
}

/** Same back-pressure settings as Node (see `libp2p.node.ts`): a 500 ms poll starves the socket. */
const WEBSOCKETS = { maxBufferedAmount: 8 * 1024 * 1024, bufferedAmountPollInterval: 2 }
/** Same liveness pings as Node (see `libp2p.node.ts`): answers queue behind fragment data. */
const CONNECTION_MONITOR = { pingInterval: 15_000, pingTimeout: { minTimeout: 30_000, maxTimeout: 60_000 } }

export interface BrowserLibp2pInit {
  /** Persistent identity (a light farmer keeps one in IndexedDB). @default a fresh random key */
  privateKey?: PrivateKey
  /**
   * Reachable by other browsers: reserve a slot on the relay and accept WebRTC through its
   * signalling. Only light farmers need this. A list gives the listen addresses themselves (one
   * `/p2p-circuit` per relay to hold a reservation on). @default false
   */
  listen?: boolean | string[]
  /**
   * Allow `ws://` and loopback/private addresses. The browser build of libp2p refuses them by
   * default (sensible on the internet, where everything is `wss://` with a DNS name); a local grid
   * needs them. @default true when the page itself is served from a loopback or private address
   * (`servedFromPrivateNetwork`): a grid on this machine or on the LAN the page came from
   */
  allowLocal?: boolean
  /** WebRTC ICE servers. @default [] (host candidates only: the local grid, and tests on loopback) */
  iceServers?: RTCIceServer[]
}

/**
 * The browser's libp2p node: WebSockets to the relay and full farmers, WebRTC to light farmers
 * (signalled through the relay's circuit), Noise, Yamux. The one place browser wiring differs from
 * `libp2p.node.ts`.
 */
export async function createBrowserLibp2p (init: BrowserLibp2pInit = {}): Promise<Libp2p> {
  const local = init.allowLocal ?? servedFromPrivateNetwork(globalThis.location?.hostname ?? '')
  return await createLibp2p({
    ...(init.privateKey !== undefined ? { privateKey: init.privateKey } : {}),
    addresses: { listen: init.listen === true ? ['/p2p-circuit', '/webrtc'] : Array.isArray(init.listen) ? init.listen : [] },
    transports: [
      webSockets(WEBSOCKETS),
      webRTC({ rtcConfiguration: { iceServers: init.iceServers ?? [] } }),
      circuitRelayTransport()
    ],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionMonitor: CONNECTION_MONITOR,
    ...(local ? { connectionGater: { denyDialMultiaddr: async () => false } } : {}),
    services: { identify: identify(), ping: ping() }
  })
}
