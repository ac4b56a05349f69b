/**
 * Coalesced WebSocket sends.
 *
 * `@libp2p/websockets` sends every buffer of an outgoing chunk as its own WebSocket message, and
 * Noise hands it a list of [2-byte length, ≤ 64 KiB ciphertext] pairs. So every 64 KiB of fragment
 * became two messages, one of them 2 bytes long, each a socket write (a syscall in Node, an IPC to
 * the network process in Chromium) and a message event plus a buffer copy at the other end. In a
 * profile of `shardfarm put`, those writes alone were 28% of the client's main thread.
 *
 * The receiver does not care where message boundaries fall: Noise reads a byte stream of
 * length-prefixed frames. So binary sends are gathered and sent as one message when the scheduler
 * given fires, or as soon as `COALESCE_LIMIT` bytes wait. Browsers flush at the end of the turn (a
 * microtask). Node flushes once the event loop has run every socket read that was ready
 * (`setImmediate`): a read hands yamux many frames, and it answers each with a window update of
 * 30 bytes on the wire. Flushed per microtask turn, a `get` of 64 MiB made 658–797 socket writes
 * under 1 KiB, each 0.15–0.35 ms of the sender's CPU on loopback; gathered so, 257–332. Order is
 * kept: a string send, a send with options or a callback, and `close()` all flush first.
 * `bufferedAmount` counts the gathered bytes, so the transport's back-pressure sees them.
 */

/** When a coalescer flushes what it gathered, if no limit is reached before. */
export type FlushScheduler = (flush: () => void) => void

/** The end of the current turn: every job of the microtask queue that is already waiting. */
export const endOfTurn: FlushScheduler = flush => { queueMicrotask(flush) }

/** A batch is sent at once when it reaches this many bytes; otherwise at the end of the turn. */
export const COALESCE_LIMIT = 1024 * 1024

/** Gathers binary messages for one socket and writes them as one. */
export class SendCoalescer {
  readonly #write: (data: Uint8Array) => void
  readonly #limit: number
  readonly #schedule: FlushScheduler
  #parts: Uint8Array[] = []
  #bytes = 0
  #scheduled = false

  constructor (write: (data: Uint8Array) => void, limit = COALESCE_LIMIT, schedule: FlushScheduler = endOfTurn) {
    this.#write = write
    this.#limit = limit
    this.#schedule = schedule
  }

  /** Bytes gathered and not yet handed to the socket. */
  get pendingBytes (): number { return this.#bytes }

  add (data: Uint8Array): void {
    if (data.byteLength === 0) return
    this.#parts.push(data)
    this.#bytes += data.byteLength
    if (this.#bytes >= this.#limit) {
      this.flush()
    } else if (!this.#scheduled) {
      this.#scheduled = true
      this.#schedule(() => {
        this.#scheduled = false
        this.flush()
      })
    }
  }

  /** Writes what was gathered as one message (the buffer itself when there is only one). */
  flush (): void {
    if (this.#parts.length === 0) return
    const parts = this.#parts
    const bytes = this.#bytes
    this.#parts = []
    this.#bytes = 0
    this.#write(parts.length === 1 ? parts[0]! : concat(parts, bytes))
  }
}

function concat (parts: Uint8Array[], bytes: number): Uint8Array {
  const out = new Uint8Array(bytes)
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.byteLength
  }
  return out
}

/** Binary data that can be gathered: what libp2p sends (Uint8Array, Buffer) and plain ArrayBuffers. */
export function asBytes (data: unknown): Uint8Array | undefined {
  if (data instanceof Uint8Array) return data
  if (data instanceof ArrayBuffer) return new Uint8Array(data)
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
  return undefined
}

/** The part of the WHATWG WebSocket that coalescing touches. */
interface SocketLike {
  readonly readyState: number
  send: (data: never, ...rest: never[]) => void
  close: (...args: never[]) => void
}

/** The `bufferedAmount` getter of `proto` or of the nearest prototype above it that has one. */
function bufferedAmountGetter (proto: object): (() => unknown) | undefined {
  for (let p: object | null = proto; p !== null; p = Object.getPrototypeOf(p) as object | null) {
    const d = Object.getOwnPropertyDescriptor(p, 'bufferedAmount')
    if (d !== undefined) return d.get
  }
  return undefined
}

/**
 * Makes every socket of `proto`'s class coalesce its plain binary sends. `proto` is a WebSocket
 * class's prototype (or a subclass's); `bufferedAmount` must be an accessor on it or above it (true
 * of `ws` and of browsers). Idempotent. Used on Node for `ws`, whose server sockets the libp2p
 * listener creates itself (so a subclass cannot reach them); `coalescingWebSocket` applies it to a
 * fresh subclass for browsers, leaving the realm's own class untouched. `schedule` says when what
 * was gathered goes out if the limit is not reached first.
 */
export function installCoalescing (proto: SocketLike, schedule: FlushScheduler = endOfTurn): void {
  const marker = Symbol.for('shardfarm.ws-coalesce')
  const target = proto as unknown as Record<symbol, boolean>
  if (target[marker] === true) return
  target[marker] = true
  const send = proto.send as (this: SocketLike, data: unknown, ...rest: unknown[]) => void
  const close = proto.close as (this: SocketLike, ...args: unknown[]) => void
  const buffered = bufferedAmountGetter(proto)
  if (buffered === undefined) throw new Error('installCoalescing: bufferedAmount is not an accessor on this prototype or above it')
  const coalescers = new WeakMap<SocketLike, SendCoalescer>()
  const coalescerOf = (socket: SocketLike): SendCoalescer => {
    let c = coalescers.get(socket)
    if (c === undefined) {
      c = new SendCoalescer(data => { send.call(socket, data) }, COALESCE_LIMIT, schedule)
      coalescers.set(socket, c)
    }
    return c
  }
  Object.defineProperties(proto, {
    send: {
      configurable: true,
      writable: true,
      value: function (this: SocketLike, data: unknown, ...rest: unknown[]): void {
        const bytes = rest.length === 0 && this.readyState === 1 ? asBytes(data) : undefined
        if (bytes !== undefined) {
          coalescerOf(this).add(bytes)
          return
        }
        coalescers.get(this)?.flush()
        send.call(this, data, ...rest)
      }
    },
    close: {
      configurable: true,
      writable: true,
      value: function (this: SocketLike, ...args: unknown[]): void {
        coalescers.get(this)?.flush()
        close.apply(this, args)
      }
    },
    bufferedAmount: {
      configurable: true,
      get (this: SocketLike): number {
        return (buffered.call(this) as number) + (coalescers.get(this)?.pendingBytes ?? 0)
      }
    }
  })
}

/** A subclass of the browser's WebSocket whose binary sends coalesce (see the file header). */
export function coalescingWebSocket (Base: typeof WebSocket): typeof WebSocket {
  class CoalescingWebSocket extends Base {}
  installCoalescing(CoalescingWebSocket.prototype as unknown as SocketLike)
  return CoalescingWebSocket
}
