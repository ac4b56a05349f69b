/**
 * The client in Node, assembled: one libp2p node (no identify: farmers and the relay are dialled
 * by address and spoken to by protocol id), the codec worker pool, Node's AES-GCM, the libp2p
 * transport and the relay's directory; and what the CLI keeps on this machine, under the person's
 * data directory (`clientHome()`, never the working directory): upload jobs and the owner's file
 * index (read keys and owner seeds), both on the key/value port on disk. The browser's twin is
 * `session.browser.ts`.
 */
import { chmodSync, existsSync, mkdirSync, statSync } from 'node:fs'
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
import { Libp2pTransport, RelayDirectory } from './adapters/libp2p-ports.ts'
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
  directory: RelayDirectory
  coder: CodecPool
  cipher: SegmentCipher
  auditor: AuditClient
  scores: ScoreBook
  close: () => Promise<void>
}

/** Starts a client that finds farmers through the relay at `relay`. */
export async function openNodeClient (relay: string): Promise<NodeClient> {
  const libp2p = await createNodeLibp2p({ identify: false })
  const coder = createNodeCodecPool()
  return {
    libp2p,
    coder,
    cipher: nodeSegmentCipher,
    transport: new Libp2pTransport(libp2p),
    directory: new RelayDirectory(libp2p, relay),
    auditor: new AuditClient(libp2p),
    // This machine's own audits of farmers, kept with its jobs and its index.
    scores: await ScoreBook.open(nodeKeyValueStore()),
    close: async () => { coder.terminate(); await libp2p.stop() }
  }
}
