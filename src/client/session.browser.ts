/**
 * The client in the page, assembled: the Web Worker codec pool, one libp2p node, the libp2p
 * transport (counting the fragment bytes it moves, for the Network view) and the relay's directory;
 * upload jobs on the key/value port (IndexedDB). The Node twin is `session.node.ts`.
 */
import type { Libp2p } from '@libp2p/interface'
import { createBrowserCodecPool } from '../codec/pool.browser.ts'
import type { CodecPool } from '../codec/pool.ts'
import type { KeyValueStore } from '../core/key-value-store.ts'
import { NoGridError } from '../net/errors.ts'
import { createBrowserLibp2p } from '../net/libp2p.browser.ts'
import { isSecureAddr, pageIsSecure } from '../net/secure-addr.ts'
import { AuditClient } from './adapters/audit-client.ts'
import { Libp2pTransport } from './adapters/libp2p-ports.ts'
import { MAX_RELAYS, RelaySetDirectory } from './adapters/relay-set.ts'
import { KvJobStore, type JobStore } from './job-store.ts'
import type { ClientPorts } from './ports.ts'
import { ScoreBook } from './score-book.ts'

/** Where the page remembers the relay addresses the person chose (one or more, separated by spaces or commas). */
const RELAY_KEY = 'shardfarm.relay'
/** Where the page caches relays that directory answers named, per grid (see `saveLearnedRelays`). */
const LEARNED_KEY = 'shardfarm.learned-relays'
/** Grids whose learned relays the page keeps. */
const MAX_CACHED_GRIDS = 8

/** The page's codec: Web Workers running the WASM Reed-Solomon codec. */
export function createBrowserCoder (): CodecPool {
  return createBrowserCodecPool()
}

/** The page's upload jobs (the outbox among them), in the app's key/value store. */
export function browserJobStore (kv: KeyValueStore): JobStore {
  return new KvJobStore(kv)
}

/** Counts the fragment bytes a transport sends and receives. */
export interface ByteCounts { sent: number, received: number }

/** The page's network half of the client: one libp2p node and the ports over it. */
export interface BrowserGrid {
  libp2p: Libp2p
  transport: Libp2pTransport
  /** Challenges farmers to prove what they hold. */
  auditor: AuditClient
  /** Fragment bytes moved so far through `transport`. */
  counts: ByteCounts
}

/** Starts the page's libp2p node and a transport over it that counts the fragment bytes it moves. */
export async function startBrowserGrid (): Promise<BrowserGrid> {
  const libp2p = await createBrowserLibp2p()
  const counts: ByteCounts = { sent: 0, received: 0 }
  const transport = new Libp2pTransport(libp2p)
  const put = transport.put.bind(transport)
  const get = transport.get.bind(transport)
  transport.put = async (f, id, bytes, o) => {
    const r = await put(f, id, bytes, o)
    if (r.stored) counts.sent += bytes.length // a fragment held already (and proven) moved no bytes
    return r
  }
  transport.get = async (f, id, o) => { const b = await get(f, id, o); counts.received += b.length; return b }
  return { libp2p, transport, auditor: new AuditClient(libp2p), counts }
}

/**
 * The directory of the grid whose relays are `relays` (asked in order, hedged; see
 * `RelaySetDirectory`), asked through `grid`'s node, followed by the relays learned before for
 * the same list; relays that its answers name are cached for next time. On a `secure` page (served
 * over HTTPS) only `wss` relays and farmer addresses count; `InsecureGridError` when no relay has one.
 */
export function relayDirectory (grid: BrowserGrid, relays: string | readonly string[], secure = pageIsSecure()): RelaySetDirectory {
  const given = typeof relays === 'string' ? parseRelayList(relays) : [...relays]
  // A page served over HTTPS may open only wss: the rest is left out (`InsecureGridError` when that is every relay).
  const directory = new RelaySetDirectory(grid.libp2p, given, { onLearned: (learned) => { saveLearnedRelays(given, learned) }, ...(secure ? { addrFilter: isSecureAddr } : {}) })
  directory.learn(learnedRelays(given))
  return directory
}

/** The page's audit scores of farmers, kept in the app's key/value store (IndexedDB). */
export async function browserScores (kv: KeyValueStore): Promise<ScoreBook> {
  return await ScoreBook.open(kv)
}

/** The ports an operation runs on, once the page is connected. */
export function browserPorts (grid: BrowserGrid, directory: RelaySetDirectory, coder: CodecPool, scores?: ScoreBook): ClientPorts & { transport: Libp2pTransport, directory: RelaySetDirectory, coder: CodecPool } {
  return { transport: grid.transport, directory, coder, auditor: grid.auditor, ...(scores !== undefined ? { scores } : {}) }
}

/** A list of relay multiaddrs from text: separated by commas, spaces or new lines; duplicates dropped; at most MAX_RELAYS. */
export function parseRelayList (text: string): string[] {
  return [...new Set(text.split(/[\s,]+/).filter(a => a !== ''))].slice(0, MAX_RELAYS)
}

/**
 * The relays to use, in order: those the person set, else the local grid's (`/grid.json`, written
 * by `npm start`: its `relays` list, or the single `relay` older servers give). Throws
 * `NoGridError` when there are none.
 */
export async function findRelays (): Promise<string[]> {
  const saved = parseRelayList(globalThis.localStorage?.getItem(RELAY_KEY) ?? '')
  if (saved.length > 0) return saved
  const res = await fetch('/grid.json', { cache: 'no-store' })
  if (!res.ok) throw new NoGridError()
  const body = await res.json() as { relay?: unknown, relays?: unknown }
  const listed = Array.isArray(body.relays) ? body.relays.filter((r): r is string => typeof r === 'string') : []
  const relays = parseRelayList([...listed, ...(typeof body.relay === 'string' ? [body.relay] : [])].join(' '))
  if (relays.length === 0) throw new NoGridError()
  return relays
}

/** The first relay to use (see `findRelays`). */
export async function findRelay (): Promise<string> {
  return (await findRelays())[0]!
}

/** Remembers the relay addresses the person chose, one or more (empty: back to the local grid). */
export function saveRelay (addrs: string): void {
  const list = parseRelayList(addrs)
  if (list.length === 0) localStorage.removeItem(RELAY_KEY)
  else localStorage.setItem(RELAY_KEY, list.join(' '))
}

type LearnedCache = Array<{ grid: string, relays: string[] }>

const gridKey = (given: readonly string[]): string => [...given].sort().join(' ')

function readLearned (): LearnedCache {
  try {
    const raw = JSON.parse(globalThis.localStorage?.getItem(LEARNED_KEY) ?? '[]') as unknown
    if (!Array.isArray(raw)) return []
    return raw.flatMap((e: { grid?: unknown, relays?: unknown }) => typeof e?.grid === 'string' && Array.isArray(e.relays)
      ? [{ grid: e.grid, relays: e.relays.filter((r): r is string => typeof r === 'string' && r.length <= 512).slice(0, MAX_RELAYS) }]
      : []).slice(-MAX_CACHED_GRIDS)
  } catch {
    return []
  }
}

/** Relays learned before for the grid of `given`. */
export function learnedRelays (given: readonly string[]): string[] {
  const key = gridKey(given)
  return readLearned().find(e => e.grid === key)?.relays ?? []
}

/**
 * Adds `learned` to the page's cache for the grid of `given`: at most MAX_RELAYS per grid (the
 * newest kept) and MAX_CACHED_GRIDS grids; keyed by the given list, so one grid's relays are never
 * asked for another's farmers.
 */
export function saveLearnedRelays (given: readonly string[], learned: readonly string[]): void {
  const key = gridKey(given)
  const cache = readLearned()
  const held = cache.find(e => e.grid === key)?.relays ?? []
  const relays = [...new Set([...held, ...learned])].filter(r => !given.includes(r)).slice(-MAX_RELAYS)
  try {
    globalThis.localStorage?.setItem(LEARNED_KEY, JSON.stringify([...cache.filter(e => e.grid !== key), { grid: key, relays }].slice(-MAX_CACHED_GRIDS)))
  } catch { /* storage full or blocked: the cache is only a help */ }
}
