/**
 * Node's SHA-256 for the core's `sha256` (see `useSha256Engine`): `node:crypto` hashes a view where
 * it lies, SharedArrayBuffer included, where WebCrypto's digest first copies it.
 */
import { createHash } from 'node:crypto'
import { useSha256Engine } from '../../core/hash.ts'

export function nodeSha256 (bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(bytes).digest()) // its own 32 bytes, not a view of Buffer's pool
}

/** Makes this process hash with `node:crypto`; called once at start by every Shardfarm Node process. */
export function installNodeSha256 (): void {
  useSha256Engine(nodeSha256)
}
