/**
 * The client in Node, assembled: one libp2p node (no identify: farmers and the relay are dialled
 * by address and spoken to by protocol id), the codec worker pool, Node's AES-GCM, the libp2p
 * transport and the relay's directory; and what the CLI keeps on this machine, under
 * `SHARDFARM_HOME` (default `./.shardfarm/client`): upload jobs and the owner's file index, both on
 * the key/value port on disk. The browser's twin is `session.browser.ts`.
 */
import { join, resolve } from 'node:path'
import type { Libp2p } from '@libp2p/interface'
import { createNodeCodecPool } from '../codec/pool.node.ts'
import type { CodecPool } from '../codec/pool.ts'
import type { SegmentCipher } from '../core/envelope.ts'
import type { KeyValueStore } from '../core/key-value-store.ts'
import { createNodeLibp2p } from '../net/libp2p.node.ts'
import { FsKeyValueStore } from '../stores/kv/fs.ts'
import { nodeSegmentCipher } from './adapters/cipher.node.ts'
import { Libp2pTransport, RelayDirectory } from './adapters/libp2p-ports.ts'
import { KvJobStore, type JobStore } from './job-store.ts'
import type { ClientPorts } from './ports.ts'

/** Where the CLI keeps its jobs and index: `SHARDFARM_HOME`, else `./.shardfarm/client`. */
export function clientHome (): string {
  return resolve(process.env.SHARDFARM_HOME ?? join('.shardfarm', 'client'))
}

/**
 * What this machine keeps, on disk under `home/store`: upload jobs (`['jobs', …]`) and the owner's
 * index (`['files', …]`). A folder of its own, so that nothing else under `home` reads as a key.
 */
export function nodeKeyValueStore (home = clientHome()): KeyValueStore {
  return new FsKeyValueStore(join(home, 'store'))
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
    close: async () => { coder.terminate(); await libp2p.stop() }
  }
}
