/**
 * One request/response exchange of the fragment protocol on a fresh stream: send the request frame
 * and body with back-pressure while already listening for the answer (a farmer may refuse, or say
 * it already holds the fragment, before the body is through), then read the answer and, for GET,
 * the fragment. Retries, deadlines and per-farmer limits are the caller's (`FarmerClient`).
 */
import type { Libp2p, PeerId, Stream } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import { FRAGMENT_PROTOCOL, MAX_HEADER_BYTES } from '../../net/protocols/fragment-constants.ts'
import type { Op } from '../../net/protocols/fragment-constants.ts'
import { FarmerError } from '../../net/protocols/fragment-errors.ts'
import { encodeFrame, parseHeaderObject, parseResponse } from '../../net/protocols/frames.ts'
import type { OkResponses, RequestHeader, ResponseHeader } from '../../net/protocols/frames.ts'
import { FrameReader, sendAll, streamSource } from '../../net/protocols/stream-io.ts'

/** A request to make: its header and, for PUT and HAS, its body. */
export interface Exchange<O extends Op = Op> {
  op: O
  req: RequestHeader
  body?: Uint8Array
  /** GET: read the fragment into this buffer when its size is exactly the one announced. */
  into?: Uint8Array
}

/** What a successful exchange yields per operation; GET adds the fragment bytes (not yet verified). */
export interface ExchangeResults {
  PUT: OkResponses['PUT']
  GET: OkResponses['GET'] & { body: Uint8Array }
  HAS: OkResponses['HAS']
  DELETE: OkResponses['DELETE']
  STAT: OkResponses['STAT']
  RENEW: OkResponses['RENEW']
}

/** Options of `exchange`. */
export interface ExchangeOptions {
  /** Aborting resets the stream. */
  signal: AbortSignal
  /** Largest GET body accepted. */
  maxFragmentBytes: number
}

/**
 * Runs `ex` against `farmer`. Rejects with a `FarmerError`: the farmer's code (`details.remote`
 * true), `BAD_RESPONSE` for an answer that breaks the protocol, or `UNREACHABLE` when the stream
 * ended before a complete answer. Transport errors from libp2p pass through for the caller to map.
 */
export async function exchange<O extends Op> (
  libp2p: Pick<Libp2p, 'dialProtocol'>, farmer: Multiaddr | PeerId, ex: Exchange<O>, options: ExchangeOptions
): Promise<ExchangeResults[O]> {
  const { signal } = options
  const stream = await libp2p.dialProtocol(farmer, FRAGMENT_PROTOCOL, { signal })
  const onAbort = (): void => { stream.abort(new Error('Call aborted')) }
  signal.addEventListener('abort', onAbort, { once: true })
  const stopSending = new AbortController()
  let answered = false
  try {
    // Subscribe before sending, so no byte of the answer can slip past.
    const reader = new FrameReader(streamSource(stream))
    const sending = sendRequest(stream, ex, AbortSignal.any([signal, stopSending.signal]))
    sending.catch(() => {})
    const res = await readResponse(reader, ex, options)
    answered = true
    // An early answer makes the rest of the body pointless; stop sending and let close() end it.
    stopSending.abort()
    await sending.catch(() => {})
    if (!res.ok) {
      throw new FarmerError(res.code, res.message, { ...res.details, op: ex.op, farmer: farmer.toString(), remote: true })
    }
    if (ex.op !== 'GET') return res as ExchangeResults[O]
    const size = (res as OkResponses['GET']).size
    const body = ex.into?.length === size ? ex.into : new Uint8Array(size)
    if (await reader.readInto(body, signal) < size) throw unreachable(ex.op, 'stream ended inside the fragment')
    if (!await reader.atEnd(signal)) throw badResponse(ex.op, 'bytes after the fragment')
    return { ok: true, size, body } as ExchangeResults[O]
  } finally {
    signal.removeEventListener('abort', onAbort)
    if (answered && stream.status === 'open') {
      await stream.close({ signal }).catch(() => { stream.abort(new Error('Close failed')) })
    } else if (stream.status === 'open') {
      stream.abort(new Error('Exchange failed'))
    }
  }
}

async function sendRequest (stream: Stream, ex: Exchange, signal: AbortSignal): Promise<void> {
  await sendAll(stream, encodeFrame(ex.req), signal)
  if (ex.body !== undefined) await sendAll(stream, ex.body, signal)
  // The farmer answers once our write end closes: that is how it knows the request is complete.
  await stream.close()
}

async function readResponse<O extends Op> (
  reader: FrameReader, ex: Exchange<O>, options: ExchangeOptions
): Promise<ResponseHeader<O>> {
  let bytes: Uint8Array
  try {
    bytes = await reader.readHeader(MAX_HEADER_BYTES, options.signal)
  } catch (err) {
    if (!(err instanceof FarmerError)) throw err
    if (err.details.reason === 'truncated') throw unreachable(ex.op, 'stream ended before an answer')
    throw badResponse(ex.op, err.message)
  }
  try {
    const hasCount = ex.req.op === 'HAS' || ex.req.op === 'RENEW' ? ex.req.count : 0
    return parseResponse(ex.op, parseHeaderObject(bytes), { maxFragmentBytes: options.maxFragmentBytes }, hasCount)
  } catch (err) {
    throw badResponse(ex.op, (err as Error).message)
  }
}

function unreachable (op: Op, why: string): FarmerError {
  return new FarmerError('UNREACHABLE', `Farmer unreachable: ${why}`, { op, remote: false })
}

function badResponse (op: Op, why: string): FarmerError {
  return new FarmerError('BAD_RESPONSE', `Farmer broke the protocol: ${why}`, { op, remote: false })
}
