/**
 * Inbound connection limits of the listening Node processes (relay and farmers): what keeps one
 * host from taking every connection slot.
 *
 * An inbound connection goes through three phases, each bounded per remote IP (IPv6: per /64):
 *
 * 1. **Socket** (TCP accepted, no WebSocket yet). At most `socketsPerIp` per IP; a new one closes
 *    the IP's oldest, and each must become a WebSocket within `handshakeTimeout` (`ws` clears the
 *    socket timeout we set when it completes the HTTP upgrade). libp2p itself puts no bound here:
 *    a silent TCP socket waited for its first byte forever.
 * 2. **Pending** (WebSocket open, Noise/Yamux not finished). At most `pendingPerIp` per IP and
 *    `pending` in all; a new one aborts the IP's oldest pending one (or, when all are full, the
 *    oldest of the IP with the most), and libp2p drops any not upgraded within `handshakeTimeout`.
 *    libp2p's own bound is global (10 by default, 10 s each): ten sockets that never spoke Noise
 *    refused everyone else.
 * 3. **Established** (libp2p connection). At most `inboundPerIp` per IP and `inbound` in all. A
 *    connection that finished its handshake over the limit closes an idle one (no open stream) of
 *    the same IP, or when all are full of the IP with the most; with none idle it is refused.
 *    Only finished handshakes evict established connections: pending ones never do.
 *
 * Evicting rather than refusing is what lets an honest client in when an attacker shares its IP
 * (every process of a loopback grid is 127.0.0.1): the newcomer takes the slot of the attacker's
 * oldest socket or idlest connection, and an honest handshake (milliseconds) completes long before
 * the attacker can cycle `pendingPerIp` sockets through libp2p's per-host rate limit. Idle victims
 * are chosen among connections older than `EVICT_GRACE_MS`, newest first, so that a flood evicts
 * its own connections and not the long-lived ones of farmers; with none that old, the oldest idle.
 *
 * The defaults are far above what an honest local grid reaches (14+ farmers, a CLI and pages, all
 * from 127.0.0.1: a few dozen connections per listener, handshakes of milliseconds) and the per-IP
 * caps are well below the global ones. Because a host over its cap loses its own oldest socket
 * rather than being refused, the phase 1 and 2 caps are sized for bursts (64): libp2p's per-host
 * rate limit (100 new connections a second) means an attacker must keep up 64 new sockets per
 * honest handshake time to push an honest handshake out, and it holds at most 64 half-open
 * sockets of each phase, each for at most 5 s.
 */
import { Server } from 'node:net'
import type { Socket } from 'node:net'
import type { Connection, ConnectionGater, Libp2p, MultiaddrConnection, PeerId, Transport } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

export interface ConnectionLimits {
  /** TCP sockets of one IP not yet WebSockets. */
  socketsPerIp: number
  /** Milliseconds from TCP accept to WebSocket open, and again from there to a libp2p connection. */
  handshakeTimeout: number
  /** WebSockets of one IP whose libp2p upgrade (Noise, Yamux) is under way. */
  pendingPerIp: number
  /** The same, over all IPs. */
  pending: number
  /** Established inbound libp2p connections from one IP. */
  inboundPerIp: number
  /** Established inbound libp2p connections in all. @default maxConnections - 64 (room for our own dials) */
  inbound?: number
  /** libp2p's `maxConnections` (inbound and outbound; it refuses new inbound ones at this count). */
  maxConnections: number
  /** Circuit relay reservations held by peers of one IP (relay only). */
  reservationsPerIp: number
}

export const CONNECTION_LIMITS: ConnectionLimits = {
  socketsPerIp: 64,
  handshakeTimeout: 5_000,
  pendingPerIp: 64,
  pending: 256,
  inboundPerIp: 256,
  maxConnections: 1024,
  reservationsPerIp: 256
}

/** An idle connection younger than this is evicted only when no older one is idle. */
export const EVICT_GRACE_MS = 1_000

/** The bucket a remote host counts in: an IPv4 address, or the /64 of an IPv6 one. */
export function hostKey (host: string | undefined): string | undefined {
  if (host === undefined || host === '') return undefined
  if (!host.includes(':')) return host
  const lower = host.toLowerCase().split('%')[0]!
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower)
  if (mapped !== null) return mapped[1]
  const [head = '', tail] = lower.split('::')
  const left = head === '' ? [] : head.split(':')
  const right = tail === undefined || tail === '' ? [] : tail.split(':')
  const groups = tail === undefined ? left : [...left, ...new Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right]
  return groups.slice(0, 4).map(g => g.replace(/^0+(?=.)/, '')).join(':') + '::/64'
}

/** The host bucket of a multiaddr, or undefined when it is not an IP address (e.g. a relayed connection). */
export function addrKey (addr: Multiaddr | undefined): string | undefined {
  if (addr === undefined) return undefined
  const parts = addr.getComponents()
  if (parts.some(c => c.name === 'p2p-circuit')) return undefined
  const first = parts[0]
  return first?.name === 'ip4' || first?.name === 'ip6' ? hostKey(first.value) : undefined
}

/** Deletes `item` from the bucket `key` of `map`; true if it was there. */
function take<T> (map: Map<string, Set<T>>, key: string, item: T): boolean {
  const set = map.get(key)
  if (set?.delete(item) !== true) return false
  if (set.size === 0) map.delete(key)
  return true
}

function add<T> (map: Map<string, Set<T>>, key: string, item: T): void {
  let set = map.get(key)
  if (set === undefined) map.set(key, set = new Set())
  set.add(item)
}

function largest<T> (map: Map<string, Set<T>>): string | undefined {
  let best: string | undefined
  let size = 0
  for (const [key, set] of map) if (set.size > size) { best = key; size = set.size }
  return best
}

interface RelayReservations { reservations?: Iterable<[unknown, { addr: Multiaddr, expiry: Date }]> & { has: (peer: PeerId) => boolean } }

/** Counts inbound sockets, pending and established connections per IP and enforces `ConnectionLimits`. */
export class InboundLimiter {
  readonly limits: Required<ConnectionLimits>
  private readonly pending = new Map<string, Set<MultiaddrConnection>>()
  private pendingCount = 0
  private readonly inbound = new Map<string, Set<Connection>>()
  private inboundCount = 0
  private node?: Libp2p

  constructor (limits: Partial<ConnectionLimits> = {}) {
    const l = { ...CONNECTION_LIMITS, ...limits }
    this.limits = { ...l, inbound: l.inbound ?? Math.max(1, l.maxConnections - 64) }
  }

  /** The libp2p connection gater (pass as `connectionGater`). */
  readonly gater: ConnectionGater = {
    denyInboundConnection: (maConn) => this.admitPending(maConn),
    denyInboundUpgradedConnection: (_peer, maConn) => this.admitUpgraded(maConn),
    denyInboundRelayReservation: (peer) => this.denyReservation(peer)
  }

  /** Counts of the moment (for tests and metrics). */
  stats (): { pending: number, inbound: number } {
    return { pending: this.pendingCount, inbound: this.inboundCount }
  }

  /** Follows the node's connections. Call before `start()`. */
  attach (node: Libp2p): void {
    this.node = node
    node.addEventListener('connection:open', ({ detail: conn }) => {
      const key = conn.direction === 'inbound' ? addrKey(conn.remoteAddr) : undefined
      if (key === undefined || conn.status !== 'open') return
      add(this.inbound, key, conn)
      this.inboundCount++
    })
    node.addEventListener('connection:close', ({ detail: conn }) => { this.forget(conn) })
  }

  /** Wraps a transport factory so its listeners bound phase 1 (see the module comment). */
  guardTransport<C> (factory: (components: C) => Transport): (components: C) => Transport {
    return (components) => {
      const transport = factory(components)
      const createListener = transport.createListener.bind(transport)
      transport.createListener = (options) => {
        const listener = createListener(options)
        // @libp2p/websockets keeps its net.Server in `server` (not part of its typed API; without
        // it we only lose phase 1, which the HTTP layer's own timeouts then cover).
        const server = (listener as unknown as { server?: unknown }).server
        if (server instanceof Server) this.guardSockets(server)
        return listener
      }
      return transport
    }
  }

  private guardSockets (server: Server): void {
    const fresh = new Map<string, Set<Socket>>()
    server.on('connection', (socket: Socket) => {
      const key = hostKey(socket.remoteAddress)
      if (key === undefined) return
      const set = fresh.get(key)
      if (set !== undefined && set.size >= this.limits.socketsPerIp) {
        // WebSockets already open (ws set their timeout to 0) no longer count.
        for (const s of set) if (s.timeout === 0) set.delete(s)
        for (const s of set) {
          if (set.size < this.limits.socketsPerIp) break
          set.delete(s)
          s.destroy()
        }
      }
      add(fresh, key, socket)
      socket.setTimeout(this.limits.handshakeTimeout)
      socket.once('timeout', () => { if (socket.timeout !== 0) socket.destroy() })
      socket.once('close', () => { take(fresh, key, socket) })
    })
  }

  private admitPending (maConn: MultiaddrConnection): boolean {
    const key = addrKey(maConn.remoteAddr)
    if (key === undefined) return false
    const own = this.pending.get(key)
    if (own !== undefined && own.size >= this.limits.pendingPerIp) this.evictPending(key)
    if (this.pendingCount >= this.limits.pending) {
      const other = largest(this.pending)
      if (other !== undefined) this.evictPending(other)
    }
    add(this.pending, key, maConn)
    this.pendingCount++
    maConn.addEventListener('close', () => { this.settle(key, maConn) }, { once: true })
    return false
  }

  private settle (key: string, maConn: MultiaddrConnection): void {
    if (take(this.pending, key, maConn)) this.pendingCount--
  }

  private evictPending (key: string): void {
    const oldest = this.pending.get(key)?.values().next().value
    if (oldest === undefined) return
    this.settle(key, oldest)
    oldest.abort(new Error('too many pending connections from this host'))
  }

  private admitUpgraded (maConn: MultiaddrConnection): boolean {
    const key = addrKey(maConn.remoteAddr)
    if (key === undefined) return false
    this.settle(key, maConn)
    if ((this.inbound.get(key)?.size ?? 0) >= this.limits.inboundPerIp && !this.evictIdle(key)) return true
    if (this.inboundCount >= this.limits.inbound) {
      const other = largest(this.inbound)
      if (other === undefined || !this.evictIdle(other)) return true
    }
    return false
  }

  /** Closes one idle connection of the bucket; false if none is idle. */
  private evictIdle (key: string): boolean {
    const idle = [...this.inbound.get(key) ?? []].filter(c => c.status === 'open' && c.streams.length === 0)
    if (idle.length === 0) return false
    const cutoff = Date.now() - EVICT_GRACE_MS
    const settled = idle.filter(c => c.timeline.open <= cutoff)
    const victim = settled.length > 0
      ? settled.reduce((a, b) => b.timeline.open > a.timeline.open ? b : a)
      : idle.reduce((a, b) => b.timeline.open < a.timeline.open ? b : a)
    this.forget(victim)
    victim.abort(new Error('too many connections from this host'))
    return true
  }

  private forget (conn: Connection): void {
    const key = addrKey(conn.remoteAddr)
    if (key !== undefined && take(this.inbound, key, conn)) this.inboundCount--
  }

  private denyReservation (peer: PeerId): boolean {
    const node = this.node
    const key = addrKey(node?.getConnections(peer)[0]?.remoteAddr)
    const store = (node?.services as Record<string, RelayReservations> | undefined)?.relay?.reservations
    if (key === undefined || store === undefined || store.has(peer)) return false
    const now = Date.now()
    let held = 0
    for (const [, r] of store) if (r.expiry.getTime() > now && addrKey(r.addr) === key) held++
    return held >= this.limits.reservationsPerIp
  }
}
