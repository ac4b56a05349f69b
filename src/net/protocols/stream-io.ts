/**
 * Byte-level helpers over a libp2p stream, shared by the farmer and the client: an exact reader (a
 * stream's chunks carry no message boundaries), a sender that honours back-pressure, and an idle
 * timer (yamux's `inactivityTimeout` is a no-op in this libp2p version, so we keep our own).
 */
import type { Stream, StreamCloseEvent, StreamMessageEvent } from '@libp2p/interface'
import { raceSignal } from 'race-signal'
import type { Uint8ArrayList } from 'uint8arraylist'
import { FarmerError } from './fragment-errors.ts'
import { checkHeaderLength } from './frames.ts'
import { LENGTH_PREFIX_BYTES, SEND_CHUNK_BYTES } from './fragment-constants.ts'

/**
 * The chunks of `stream` as an async iterable, built on its events rather than on the stream's own
 * iterator. That iterator (libp2p 3.x) only subscribes on its first `next()` and ends on
 * `remoteCloseWrite`, so a reader that starts after the peer has sent and closed (a handler that
 * awaits something first) gets the data and then waits forever. Here we subscribe at once and end on
 * `end`, which libp2p dispatches only after the buffered data, or at once when it already ended.
 */
export function streamSource (stream: Stream): AsyncIterable<Uint8Array | Uint8ArrayList> {
  const queue: Array<Uint8Array | Uint8ArrayList> = []
  let ended = stream.readableEnded
  let failure: Error | undefined
  let wake: (() => void) | undefined
  const notify = (): void => {
    const w = wake
    wake = undefined
    w?.()
  }
  const onMessage = (evt: StreamMessageEvent): void => { queue.push(evt.data); notify() }
  const onEnd = (): void => { ended = true; notify() }
  const onClose = (evt: StreamCloseEvent): void => {
    failure = evt.error
    ended = true
    notify()
    stream.removeEventListener('message', onMessage)
    stream.removeEventListener('end', onEnd)
    stream.removeEventListener('close', onClose)
  }
  stream.addEventListener('message', onMessage)
  stream.addEventListener('end', onEnd)
  stream.addEventListener('close', onClose)
  if (stream.status !== 'open' && stream.status !== 'closing') ended = true
  return {
    [Symbol.asyncIterator]: () => ({
      next: async (): Promise<IteratorResult<Uint8Array | Uint8ArrayList>> => {
        for (;;) {
          const chunk = queue.shift()
          if (chunk !== undefined) return { done: false, value: chunk }
          if (failure !== undefined) throw failure
          if (ended) return { done: true, value: undefined }
          await new Promise<void>(resolve => { wake = resolve })
        }
      }
    })
  }
}

/** Reads exact byte counts from an async source of chunks, keeping what is left over for the next read. */
export class FrameReader {
  readonly #it: AsyncIterator<Uint8Array | Uint8ArrayList>
  /** The piece being read from; only ever empty when nothing is buffered. */
  #head: Uint8Array = new Uint8Array(0)
  /** Pieces received after `#head`, in order. */
  #pieces: Uint8Array[] = []
  #ended = false

  constructor (source: AsyncIterable<Uint8Array | Uint8ArrayList>) {
    this.#it = source[Symbol.asyncIterator]()
  }

  /**
   * Makes the next non-empty piece the head (called only once the head is used up); false at end of
   * stream. A chunk that is a `Uint8ArrayList` is taken piece by piece: joining it into one buffer
   * copied every received byte once more (4 % of a farmer's main thread in a PUT profile).
   */
  async #pull (signal?: AbortSignal): Promise<boolean> {
    for (;;) {
      const piece = this.#pieces.shift()
      if (piece !== undefined) {
        if (piece.byteLength === 0) continue
        this.#head = piece
        return true
      }
      if (this.#ended) return false
      const next = await raceSignal(this.#it.next(), signal)
      if (next.done === true) {
        this.#ended = true
        return false
      }
      if (next.value instanceof Uint8Array) this.#pieces.push(next.value)
      else for (const b of next.value) this.#pieces.push(b)
    }
  }

  /**
   * Fills `target` from the stream; returns how many bytes it got, fewer only at end of stream.
   * `onProgress` sees each step and its byte count, so a caller can re-arm an idle timer or meter
   * the transfer rate.
   */
  async readInto (target: Uint8Array, signal?: AbortSignal, onProgress?: (bytes: number) => void): Promise<number> {
    let filled = 0
    while (filled < target.byteLength) {
      if (this.#head.byteLength === 0 && !await this.#pull(signal)) break
      const n = Math.min(this.#head.byteLength, target.byteLength - filled)
      target.set(this.#head.subarray(0, n), filled)
      this.#head = this.#head.subarray(n)
      filled += n
      onProgress?.(n)
    }
    return filled
  }

  /** Reads one header frame: the 4-byte length (checked against the limit first), then the JSON bytes. */
  async readHeader (maxHeaderBytes: number, signal?: AbortSignal): Promise<Uint8Array> {
    const prefix = new Uint8Array(LENGTH_PREFIX_BYTES)
    if (await this.readInto(prefix, signal) < LENGTH_PREFIX_BYTES) throw truncated('header length')
    const length = new DataView(prefix.buffer).getUint32(0)
    checkHeaderLength(length, maxHeaderBytes)
    const header = new Uint8Array(length)
    if (await this.readInto(header, signal) < length) throw truncated('header')
    return header
  }

  /** True when the stream has ended and nothing is buffered; waits for the peer to close its write end. */
  async atEnd (signal?: AbortSignal): Promise<boolean> {
    return this.#head.byteLength === 0 && !await this.#pull(signal)
  }

  /** Discards everything up to the end of the stream; returns the bytes discarded. */
  async discardToEnd (signal?: AbortSignal): Promise<number> {
    let n = 0
    do {
      n += this.#head.byteLength
      this.#head = new Uint8Array(0)
    } while (await this.#pull(signal))
    return n
  }
}

function truncated (what: string): FarmerError {
  return new FarmerError('BAD_REQUEST', `Malformed frame: stream ended inside the ${what}`, { reason: 'truncated' })
}

/**
 * Sends `data` in chunks, waiting for drain whenever `send()` reports a full buffer, so a fast
 * producer never queues a whole fragment in the muxer. `onProgress` runs after each chunk has been
 * taken (the muxer has room again), with its byte count.
 */
export async function sendAll (
  stream: Pick<Stream, 'send' | 'onDrain'>, data: Uint8Array, signal?: AbortSignal, onProgress?: (bytes: number) => void
): Promise<void> {
  for (let off = 0; off < data.byteLength; off += SEND_CHUNK_BYTES) {
    signal?.throwIfAborted()
    const chunk = data.subarray(off, off + SEND_CHUNK_BYTES)
    if (!stream.send(chunk)) await stream.onDrain({ signal })
    onProgress?.(chunk.byteLength)
  }
}

/** An idle timer: `touch()` re-arms it, `clear()` disarms it for good. */
export interface IdleTimer { touch: () => void, clear: () => void }

/**
 * Calls `onIdle` when no byte has moved on `stream` for `ms`. Inbound data re-arms it by itself;
 * writers call `touch()` after each send.
 */
export function idleTimer (stream: Pick<Stream, 'addEventListener' | 'removeEventListener'>, ms: number,
  onIdle: () => void): IdleTimer {
  let timer: ReturnType<typeof setTimeout> | undefined
  let cleared = false
  const touch = (): void => {
    if (cleared) return
    clearTimeout(timer)
    timer = setTimeout(onIdle, ms)
  }
  const clear = (): void => {
    cleared = true
    clearTimeout(timer)
    stream.removeEventListener('message', touch)
    stream.removeEventListener('close', clear)
  }
  stream.addEventListener('message', touch)
  stream.addEventListener('close', clear)
  touch()
  return { touch, clear }
}
