import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { privateKeyFromProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { FsKeyValueStore } from './kv/fs.ts'
import { IdentityStore } from './identity.ts'

/** The `KeyValueStore` directory inside a farmer's or relay's data directory. */
export const STATE_DIR = 'state'

/** The node's identity's name in its `IdentityStore`. */
export const NODE_IDENTITY = 'node'

/**
 * Where the identity was kept before the `KeyValueStore` (the key's protobuf, alone in a file). It
 * is read once, when the store has no identity yet, and left as it is: it never changes, and an
 * older build run on the same directory keeps the same peer id.
 */
export const IDENTITY_FILE = 'identity.key'

/**
 * Loads the Ed25519 identity kept in the data directory `dir` (in `dir/state`), or makes one and
 * keeps it there, so a farmer or relay has the same peer id after every restart. A directory of an
 * earlier version keeps its peer id: its `identity.key` is taken over.
 */
export async function loadOrCreateIdentity (dir: string): Promise<PrivateKey> {
  const identities = new IdentityStore(new FsKeyValueStore(join(dir, STATE_DIR)))
  if (await identities.load(NODE_IDENTITY) === undefined) {
    const legacy = await readFile(join(dir, IDENTITY_FILE)).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined
      throw err
    })
    if (legacy !== undefined) await identities.save(NODE_IDENTITY, privateKeyFromProtobuf(new Uint8Array(legacy)))
  }
  return await identities.loadOrCreate(NODE_IDENTITY)
}
