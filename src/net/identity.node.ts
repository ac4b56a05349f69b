import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'

/** File name of the node's libp2p identity inside its data directory. */
export const IDENTITY_FILE = 'identity.key'

/**
 * Loads the Ed25519 identity kept in `dir`, or makes one and keeps it there, so a farmer or relay
 * has the same peer id after every restart. The key is written to a temp file and renamed, so a
 * crash never leaves a half-written identity.
 */
export async function loadOrCreateIdentity (dir: string): Promise<PrivateKey> {
  const path = join(dir, IDENTITY_FILE)
  try {
    return privateKeyFromProtobuf(new Uint8Array(await readFile(path)))
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  await mkdir(dir, { recursive: true })
  const key = await generateKeyPair('Ed25519')
  const tmp = `${path}.${process.pid}.tmp`
  await writeFile(tmp, privateKeyToProtobuf(key), { mode: 0o600, flush: true })
  await rename(tmp, path)
  return key
}
