/**
 * Directory sync, `/shardfarm/directory-sync/1.0.0`: gossipsub keeps no history, so a relay that
 * starts, or reconnects to its federation, pulls the records a peer relay holds now.
 *
 * Wire: one page per stream. The dialer writes one varint-length-prefixed UTF-8 JSON frame
 * `{ after?: cursor }` (≤ `MAX_SYNC_REQUEST_BYTES`); the relay answers `{ items: [...], next?: cursor }`
 * (≤ `MAX_SYNC_PAGE_BYTES` of items, the frame ≤ `MAX_SYNC_RESPONSE_BYTES`) and closes. Items are
 * the federation's gossip messages (`relay/gossip-records.ts`): the receiver checks each one as it
 * checks gossip, so a sync peer is believed no more than a gossip peer. `next` is an opaque cursor
 * (at most 160 printable characters); its absence ends the sync. Each stream has a deadline, and a
 * whole pull stops after `maxPages`.
 */
import { lpStream } from '@libp2p/utils'
import type { Libp2p, PeerId, Stream } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import { DirectoryError } from './directory.ts'
import type { AbortOptions } from '../../core/errors.ts'

/** Versioned protocol id. */
export const DIRECTORY_SYNC_PROTOCOL = '/shardfarm/directory-sync/1.0.0'
/** Largest request frame. */
export const MAX_SYNC_REQUEST_BYTES = 1024
/** Bytes of items in one page. */
export const MAX_SYNC_PAGE_BYTES = 256 * 1024
/** Largest response frame a puller reads: a page and room for its envelope. */
export const MAX_SYNC_RESPONSE_BYTES = MAX_SYNC_PAGE_BYTES + 16 * 1024
/** Time one page may take, either side. */
export const SYNC_TIMEOUT_MS = 10_000
/** Pages one pull reads at most: a page holds ~250 records of ~1 KiB, so this covers 250 000. */
export const MAX_SYNC_PAGES = 1000

/** What a relay serves a page from: items after `after`, each already JSON-sized below the page. */
export type SyncSource = (after: string | undefined, maxBytes: number) => { items: object[], next?: string }

const CURSOR = /^[\x21-\x7e]{1,160}$/

/** Serves sync pages from `source`; returns the function that stops serving. */
export async function serveDirectorySync (libp2p: Libp2p, source: SyncSource, init: { timeoutMs?: number, onError?: (err: Error) => void } = {}): Promise<() => Promise<void>> {
  await libp2p.handle(DIRECTORY_SYNC_PROTOCOL, async (stream: Stream) => {
    const signal = AbortSignal.timeout(init.timeoutMs ?? SYNC_TIMEOUT_MS)
    try {
      const lp = lpStream(stream, { maxDataLength: MAX_SYNC_REQUEST_BYTES })
      const req = parse((await lp.read({ signal })).subarray())
      const after = req.after
      if (after !== undefined && (typeof after !== 'string' || !CURSOR.test(after))) throw new DirectoryError('BAD_REQUEST', 'after must be a cursor')
      const page = source(after, MAX_SYNC_PAGE_BYTES)
      await lp.write(new TextEncoder().encode(JSON.stringify(page)), { signal })
      await stream.close({ signal })
    } catch (err) {
      init.onError?.(err as Error)
      stream.abort(err as Error)
    }
  }, { maxInboundStreams: 2 })
  return async () => { await libp2p.unhandle(DIRECTORY_SYNC_PROTOCOL) }
}

/** Options of `pullDirectorySync`. */
export interface SyncPullOptions extends AbortOptions {
  /** Deadline of each page. @default SYNC_TIMEOUT_MS */
  timeoutMs?: number
  /** Pages read at most. @default MAX_SYNC_PAGES */
  maxPages?: number
}

/**
 * Pulls every page `peer` serves, handing each page's items (unchecked: the caller checks them like
 * gossip) to `onPage`, while the next page is already being read. Returns the number of items read.
 * Throws `DirectoryError` on a malformed page.
 */
export async function pullDirectorySync (libp2p: Libp2p, peer: PeerId | Multiaddr, onPage: (items: unknown[]) => Promise<void>, options: SyncPullOptions = {}): Promise<number> {
  const fetchPage = async (after: string | undefined): Promise<{ items: unknown[], next?: string }> => {
    const timeout = AbortSignal.timeout(options.timeoutMs ?? SYNC_TIMEOUT_MS)
    const signal = options.signal === undefined ? timeout : AbortSignal.any([options.signal, timeout])
    const stream = await libp2p.dialProtocol(peer, DIRECTORY_SYNC_PROTOCOL, { signal })
    let res: Record<string, unknown>
    try {
      const lp = lpStream(stream, { maxDataLength: MAX_SYNC_RESPONSE_BYTES })
      await lp.write(new TextEncoder().encode(JSON.stringify(after === undefined ? {} : { after })), { signal })
      res = parse((await lp.read({ signal })).subarray())
      await stream.close({ signal }).catch(() => {})
    } catch (err) {
      stream.abort(err as Error)
      if ((err as Error).name === 'InvalidDataLengthError') throw new DirectoryError('TOO_LARGE', 'sync page exceeds the size limit')
      throw err
    }
    if (!Array.isArray(res.items)) throw new DirectoryError('BAD_REQUEST', 'malformed sync page')
    if (res.next !== undefined && (typeof res.next !== 'string' || !CURSOR.test(res.next) || res.next === after)) throw new DirectoryError('BAD_REQUEST', 'malformed sync cursor')
    return { items: res.items, ...(res.next !== undefined ? { next: res.next as string } : {}) }
  }
  let n = 0
  let pending = fetchPage(undefined)
  for (let page = 0; page < (options.maxPages ?? MAX_SYNC_PAGES); page++) {
    const { items, next } = await pending
    if (next !== undefined) {
      pending = fetchPage(next)
      pending.catch(() => {}) // awaited on the next turn; not unhandled if `onPage` throws first
    }
    n += items.length
    await onPage(items)
    if (next === undefined) return n
  }
  return n
}

function parse (frame: Uint8Array): Record<string, unknown> {
  let x: unknown
  try { x = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(frame)) } catch { throw new DirectoryError('BAD_REQUEST', 'frame is not UTF-8 JSON') }
  if (typeof x !== 'object' || x === null || Array.isArray(x)) throw new DirectoryError('BAD_REQUEST', 'frame must be an object')
  return x as Record<string, unknown>
}
