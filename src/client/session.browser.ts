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
import { AuditClient } from './adapters/audit-client.ts'
import { Libp2pTransport, RelayDirectory } from './adapters/libp2p-ports.ts'
import { KvJobStore, type JobStore } from './job-store.ts'
import type { ClientPorts } from './ports.ts'
import { ScoreBook } from './score-book.ts'

/** Where the page remembers a relay address the person chose. */
const RELAY_KEY = 'shardfarm.relay'

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

/** The directory of the grid whose relay is at `relay`, asked through `grid`'s node. */
export function relayDirectory (grid: BrowserGrid, relay: string): RelayDirectory {
  return new RelayDirectory(grid.libp2p, relay)
}

/** The page's audit scores of farmers, kept in the app's key/value store (IndexedDB). */
export async function browserScores (kv: KeyValueStore): Promise<ScoreBook> {
  return await ScoreBook.open(kv)
}

/** The ports an operation runs on, once the page is connected. */
export function browserPorts (grid: BrowserGrid, directory: RelayDirectory, coder: CodecPool, scores?: ScoreBook): ClientPorts & { transport: Libp2pTransport, directory: RelayDirectory, coder: CodecPool } {
  return { transport: grid.transport, directory, coder, auditor: grid.auditor, ...(scores !== undefined ? { scores } : {}) }
}

/**
 * The relay to use: the one the person set, else the local grid's (`/grid.json`, written by
 * `npm start`). Throws when there is neither.
 */
export async function findRelay (): Promise<string> {
  const saved = globalThis.localStorage?.getItem(RELAY_KEY)
  if (saved !== null && saved !== undefined && saved !== '') return saved
  const res = await fetch('/grid.json', { cache: 'no-store' })
  if (!res.ok) throw new NoGridError()
  const { relay } = await res.json() as { relay: string }
  return relay
}

/** Remembers the relay address the person chose (empty: back to the local grid). */
export function saveRelay (addr: string): void {
  if (addr.trim() === '') localStorage.removeItem(RELAY_KEY)
  else localStorage.setItem(RELAY_KEY, addr.trim())
}
