/**
 * The client in Node, assembled: one libp2p node (no identify: farmers and the relay are dialled
 * by address and spoken to by protocol id), the codec worker pool, Node's AES-GCM, the libp2p
 * transport and the relay's directory; and what the CLI keeps on this machine, under the person's
 * data directory (`clientHome()`, never the working directory): upload jobs and the owner's file
 * index (read keys and owner seeds), both on the key/value port on disk. The browser's twin is
 * `session.browser.ts`.
 */
import { chmodSync, existsSync, mkdirSync, statSync } from 'node:fs'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { homedir } from 'node:os'
import { isAbsolute, join, resolve } from 'node:path'
import type { Libp2p } from '@libp2p/interface'
import { createNodeCodecPool } from '../codec/pool.node.ts'
import type { CodecPool } from '../codec/pool.ts'
import type { SegmentCipher } from '../core/envelope.ts'
import type { KeyValueStore } from '../core/key-value-store.ts'
import { createNodeLibp2p } from '../net/libp2p.node.ts'
import { FsKeyValueStore } from '../stores/kv/fs.ts'
import { AuditClient } from './adapters/audit-client.ts'
import { nodeSegmentCipher } from './adapters/cipher.node.ts'
import { Libp2pTransport } from './adapters/libp2p-ports.ts'
import { MAX_RELAYS, RelaySetDirectory } from './adapters/relay-set.ts'
import { KvJobStore, type JobStore } from './job-store.ts'
import type { ClientPorts } from './ports.ts'
import { ScoreBook } from './score-book.ts'

/** Where older versions kept jobs and index: `.shardfarm/client` in the working directory. */
export const LEGACY_CLIENT_HOME = join('.shardfarm', 'client')

/**
 * Where the CLI keeps its jobs and index (read keys and owner seeds): `SHARDFARM_HOME`, else
 * `$XDG_DATA_HOME/shardfarm`, else `~/.local/share/shardfarm`. Never the working directory, where
 * keys are easy to commit. Data an older version left in `./.shardfarm/client` is not read: the
 * first call says on stderr where it is and how to move it (once per process).
 */
export function clientHome (): string {
  const given = process.env.SHARDFARM_HOME
  if (given !== undefined && given !== '') return resolve(given)
  const xdg = process.env.XDG_DATA_HOME
  const home = join(xdg !== undefined && isAbsolute(xdg) ? xdg : join(homedir(), '.local', 'share'), 'shardfarm')
  warnLegacyHome(home)
  return home
}

let legacyWarned = false

/**
 * Says where an older version's data is and how to move it, and does not move it: a cloned
 * repository could plant a `.shardfarm/client`, and its entries must not join the person's index.
 */
function warnLegacyHome (home: string): void {
  if (legacyWarned) return
  legacyWarned = true
  const old = resolve(LEGACY_CLIENT_HOME)
  if (old === home) return
  const steps: string[] = []
  for (const name of ['store', 'index.json']) {
    if (!existsSync(join(old, name))) continue
    steps.push(existsSync(join(home, name))
      ? `${join(home, name)} already exists: move what ${join(old, name)} holds into it by hand`
      : `mkdir -p -m 700 '${home}' && mv '${join(old, name)}' '${join(home, name)}'`)
  }
  if (steps.length === 0) return
  process.stderr.write(`shardfarm: ${old} holds upload jobs and owner keys (delete rights) left by an older version.\n` +
    `  They are no longer read from the working directory; this version keeps them in ${home}.\n` +
    `  If they are yours, move them once:\n${steps.map(s => `    ${s}\n`).join('')}` +
    `  (or run with SHARDFARM_HOME='${old}' to use them where they are).\n`)
}

/** Creates `dir` if needed and makes it private to this user (0700): it holds keys. */
function privateDir (dir: string): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  if ((statSync(dir).mode & 0o077) !== 0) chmodSync(dir, 0o700)
  return dir
}

/**
 * What this machine keeps, on disk under `home/store`: upload jobs (`['jobs', …]`) and the owner's
 * index (`['files', …]`). A folder of its own, so that nothing else under `home` reads as a key.
 */
export function nodeKeyValueStore (home = clientHome()): KeyValueStore {
  return new FsKeyValueStore(join(privateDir(home), 'store'))
}

/** The upload jobs of this machine, on disk under `home`. */
export function nodeJobStore (home = clientHome()): JobStore {
  return new KvJobStore(nodeKeyValueStore(home))
}

/** Everything a file command talks through; `close()` ends it all. */
export interface NodeClient extends ClientPorts {
  libp2p: Libp2p
  transport: Libp2pTransport
  directory: RelaySetDirectory
  coder: CodecPool
  cipher: SegmentCipher
  auditor: AuditClient
  scores: ScoreBook
  close: () => Promise<void>
}

/**
 * Starts a client that finds farmers through `relays` (asked in order, hedged; see
 * `RelaySetDirectory`), followed by the relays it learned before for the same list (cached in
 * `home`, where it adds those that directory answers name).
 */
export async function openNodeClient (relays: string | readonly string[], init: { home?: string } = {}): Promise<NodeClient> {
  const given = typeof relays === 'string' ? [relays] : [...relays]
  const home = init.home ?? clientHome()
  const libp2p = await createNodeLibp2p({ identify: false })
  const coder = createNodeCodecPool()
  let saving = Promise.resolve()
  const directory = new RelaySetDirectory(libp2p, given, {
    onLearned: (learned) => { saving = saving.then(async () => { await saveLearnedRelays(home, given, learned) }).catch(() => {}) }
  })
  directory.learn(await learnedRelays(home, given))
  return {
    libp2p,
    coder,
    cipher: nodeSegmentCipher,
    transport: new Libp2pTransport(libp2p),
    directory,
    auditor: new AuditClient(libp2p),
    // This machine's own audits of farmers, kept with its jobs and its index.
    scores: await ScoreBook.open(nodeKeyValueStore(home)),
    close: async () => { coder.terminate(); await libp2p.stop(); await saving }
  }
}

/** In the data folder: relays learned from directory answers, per grid (see `saveLearnedRelays`). */
export const LEARNED_RELAYS_FILE = 'relays.json'

/** Grids whose learned relays the cache keeps; the oldest goes first. */
const MAX_CACHED_GRIDS = 8

type RelayCache = Array<{ grid: string, relays: string[] }>

/** The cache key of a list of given relays: the same relays in any order are one grid. */
const gridKey = (given: readonly string[]): string => [...given].sort().join(' ')

async function readCache (home: string): Promise<RelayCache> {
  try {
    const raw = JSON.parse((await readFile(join(home, LEARNED_RELAYS_FILE), 'utf8')).slice(0, 1024 * 1024)) as unknown
    if (!Array.isArray(raw)) return []
    return raw.flatMap((e: { grid?: unknown, relays?: unknown }) => typeof e?.grid === 'string' && Array.isArray(e.relays)
      ? [{ grid: e.grid, relays: e.relays.filter((r): r is string => typeof r === 'string' && r.length <= 512).slice(0, MAX_RELAYS) }]
      : []).slice(-MAX_CACHED_GRIDS)
  } catch {
    return []
  }
}

/** Relays learned before for the grid of `given` (the cache in `home`); [] when none or unreadable. */
export async function learnedRelays (home: string, given: readonly string[]): Promise<string[]> {
  const key = gridKey(given)
  return (await readCache(home)).find(e => e.grid === key)?.relays ?? []
}

/**
 * Adds `learned` to the cache of relays for the grid of `given`, in `home` (0600): at most
 * MAX_RELAYS per grid (the newest kept) and MAX_CACHED_GRIDS grids. Keyed by the given
 * list, so relays learned from one grid are never asked for another's farmers.
 */
export async function saveLearnedRelays (home: string, given: readonly string[], learned: readonly string[]): Promise<void> {
  const key = gridKey(given)
  const cache = await readCache(home)
  const held = cache.find(e => e.grid === key)?.relays ?? []
  const relays = [...new Set([...held, ...learned])].filter(r => !given.includes(r)).slice(-MAX_RELAYS)
  const next = [...cache.filter(e => e.grid !== key), { grid: key, relays }].slice(-MAX_CACHED_GRIDS)
  await mkdir(home, { recursive: true, mode: 0o700 })
  await writeFile(join(home, LEARNED_RELAYS_FILE), JSON.stringify(next) + '\n', { mode: 0o600 })
}

