import { createLibp2p, type Libp2p } from 'libp2p'
import { webSockets } from '@libp2p/websockets'
import { noise } from '@libp2p/noise'
import { yamux } from '@libp2p/yamux'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import type { PrivateKey } from '@libp2p/interface'
import { WebSocket as WsWebSocket } from 'ws'
import { installCoalescing } from './ws-coalesce.ts'
import { InboundLimiter } from './connection-limits.ts'
import type { ConnectionLimits } from './connection-limits.ts'

// @libp2p/websockets dials with the global WebSocket. Node's own (undici) masks every outgoing
// frame in JavaScript, which was the largest single cost of a client PUT (18 % of its CPU in a
// profile); `ws` masks with the native `bufferutil` addon. Both follow the WHATWG API the transport
// uses (binaryType, bufferedAmount, add/removeEventListener).
//
// Our dialled sockets also send with an all-zero mask, which `ws` recognises and skips: no copy of
// every outgoing message into a fresh buffer and no XOR pass over it. Masking exists so that script
// in a web page cannot choose the bytes a naive proxy sees (RFC 6455 §10.3); a Node process chooses
// its own bytes anyway, and on the wire a zero-masked frame is an ordinary, valid client frame.
// (The page keeps the browser's own masking, which it cannot change.)
class UnmaskedWebSocket extends WsWebSocket {
  constructor (address: string | URL, protocols?: string | string[]) {
    super(address, protocols, { generateMask: zeroMask })
    // `ws` emits 'error' as a Node event, which throws when nobody listens: a dial whose caller
    // gave up (aborted, its listeners removed) and whose DNS lookup failed afterwards took the whole
    // process down (ENOTFOUND from getaddrinfo). A relay dials addresses farmers announce, so one
    // made-up host name could crash it. The error still reaches the transport's own listeners.
    this.on('error', () => {})
  }
}
function zeroMask (mask: Buffer): void { mask.fill(0) }
globalThis.WebSocket = UnmaskedWebSocket as unknown as typeof globalThis.WebSocket
// Dialled and accepted sockets alike (the listener makes its sockets from the same `ws` class)
// gather their Noise frames into one message until the event loop has run the socket reads that
// were ready (`setImmediate`): see `ws-coalesce.ts`.
installCoalescing(WsWebSocket.prototype as never, afterReads)
function afterReads (flush: () => void): void { setImmediate(flush) }
// libp2p aborts a WebSocket connection (a handshake past its timeout, a connection pruned or
// evicted by `connection-limits.ts`) with `close(1006)`, a code `ws` refuses to send: it threw, the
// abort was logged and the socket stayed open until the peer closed it. 1006 means "gone without a
// close frame", so end the socket at once.
{
  const proto = WsWebSocket.prototype as unknown as Record<symbol, boolean> & { close: (code?: number, data?: unknown) => void, terminate: () => void }
  const marker = Symbol.for('shardfarm.ws-abort')
  if (proto[marker] !== true) {
    proto[marker] = true
    const close = proto.close
    proto.close = function (this: typeof proto, code?: number, data?: unknown): void {
      if (code === 1006) this.terminate()
      else close.call(this, code, data)
    }
  }
}

export interface NodeLibp2pInit {
  /** Persistent identity (see `loadOrCreateIdentity`). @default a fresh random key */
  privateKey?: PrivateKey
  /** Listen multiaddrs. @default [] (a client that only dials) */
  listen?: string[]
  /**
   * New inbound connections accepted per second from one host. libp2p's default (5) refuses a
   * local grid's farmers starting together, and a page opening its connections at once. @default 100
   */
  inboundConnectionThreshold?: number
  /**
   * Run libp2p's identify protocol on every connection. A process that only dials farmers and the
   * relay by address, with protocols it names itself (the CLI), has no use for it: leaving it out
   * made the first request to 14 farmers 290–357 ms instead of 414–479 (90 ms less CPU), about
   * a tenth of a small `shardfarm put`. Farmers and the relay keep it (browsers need it to use the
   * relay). @default true
   */
  identify?: boolean
  /**
   * Per-IP and global bounds on inbound sockets and connections, and the handshake timeout (see
   * `connection-limits.ts`). @default CONNECTION_LIMITS
   */
  connectionLimits?: Partial<ConnectionLimits>
  /**
   * Serve WebSockets over TLS (`wss`) with this certificate and key (PEM): listen addresses then
   * end in `/tls/ws` (`wssListenAddr`). Browsers on an HTTPS page can dial nothing else.
   */
  tls?: { cert: string, key: string }
  /**
   * Addresses to give out instead of the listened ones (e.g. `/dns4/farm.example.org/tcp/443/tls/ws`
   * behind a port forward, or a name the certificate is for). @default the listen addresses
   */
  announce?: string[]
  /** Extra services merged over identify and ping (e.g. the circuit relay server). */
  services?: Record<string, (components: any) => unknown> // eslint-disable-line @typescript-eslint/no-explicit-any
}

/**
 * WebSocket back-pressure. When more than `maxBufferedAmount` bytes wait in the socket, the
 * transport polls `bufferedAmount` every `bufferedAmountPollInterval` ms; its default of 500 ms
 * stalled every 4 MiB fragment for up to half a second and left both ends idle (measured: the
 * farmer 65 % idle during a PUT benchmark). A short poll keeps the pipe full.
 */
export const WEBSOCKETS = { maxBufferedAmount: 8 * 1024 * 1024, bufferedAmountPollInterval: 2 }

/**
 * Liveness pings. A ping answer queues behind the fragment bytes already sent on the connection,
 * and a browser over a slow link can have several seconds of data queued: libp2p's adaptive
 * timeout (as low as 5 s) then aborted healthy connections mid-transfer (seen in bench:browser).
 * A dead peer is still found, within 30–60 s; closed sockets are noticed at once anyway.
 */
export const CONNECTION_MONITOR = { pingInterval: 15_000, pingTimeout: { minTimeout: 30_000, maxTimeout: 60_000 } }

/**
 * The one place Node processes (farmer, relay, CLI client) build their libp2p node: WebSockets,
 * Noise, Yamux, identify and ping, with per-IP bounds on inbound connections so that one host
 * cannot take every slot of a listener (`connection-limits.ts`). Yamux keeps its default windows: raising them measured no gain on
 * loopback, where CPU (Noise and copies) is the limit (notes in docs/protocol.md).
 */
export async function createNodeLibp2p (init: NodeLibp2pInit = {}): Promise<Libp2p> {
  const limiter = new InboundLimiter(init.connectionLimits)
  const { limits } = limiter
  const node = await createLibp2p({
    start: false,
    ...(init.privateKey !== undefined ? { privateKey: init.privateKey } : {}),
    addresses: { listen: init.listen ?? [], ...(init.announce !== undefined && init.announce.length > 0 ? { announce: init.announce } : {}) },
    transports: [limiter.guardTransport(webSockets({ ...WEBSOCKETS, ...(init.tls !== undefined ? { https: { cert: init.tls.cert, key: init.tls.key } } : {}) }))],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionGater: limiter.gater,
    connectionManager: {
      inboundConnectionThreshold: init.inboundConnectionThreshold ?? 100,
      maxConnections: limits.maxConnections,
      // The limiter keeps pending connections within `limits.pending`, aborting the excess; libp2p
      // counts an aborted one until its upgrade has unwound, hence the margin.
      maxIncomingPendingConnections: limits.pending * 2,
      inboundUpgradeTimeout: limits.handshakeTimeout
    },
    connectionMonitor: CONNECTION_MONITOR,
    services: { ...(init.identify === false ? {} : { identify: identify() }), ping: ping(), ...(init.services ?? {}) }
  })
  limiter.attach(node)
  await node.start()
  return node
}
