/**
 * Node's SHA-256 for the core's `sha256` (see `useSha256Engine`): `node:crypto` hashes a view where
 * it lies, SharedArrayBuffer included, where WebCrypto's digest first copies it.
 */
import { createHash, hash } from 'node:crypto'
import { useBase64Engine } from '../../core/base64.ts'
import { useSha256Engine } from '../../core/hash.ts'
import { useMerkleSha256 } from '../../core/merkle.ts'
import { nodeBase64 } from './base64.node.ts'

export function nodeSha256 (bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(bytes).digest()) // its own 32 bytes, not a view of Buffer's pool
}

const merkleDigest = new Uint8Array(32)

/**
 * SHA-256 of one small input for Merkle trees, into one reused buffer (see `MerkleSha256`).
 * Per call the overhead costs more than the hashing, so the cheapest call wins. The 1024 leaves of a
 * 1 MiB fragment (1025-byte inputs), medians on 2 shared cores: `crypto.hash` to a latin1
 * ('binary') string 1.6 ms, to a Buffer 3.3 (its allocations meet the GC), a `Hash` primed with
 * 0x00 and `.copy()`-ed per leaf 3.8, `createHash` per leaf 4.5, `@noble/hashes` 13.8; the same MiB
 * in one call (the fragment id) 0.9, so about half of the 1.6 is the calls.
 */
export function nodeMerkleSha256 (bytes: Uint8Array): Uint8Array {
  const s = hash('sha256', bytes, 'binary')
  for (let i = 0; i < 32; i++) merkleDigest[i] = s.charCodeAt(i)
  return merkleDigest
}

/**
 * Makes this process hash with `node:crypto` and code base64 with `Buffer`; called once at start by
 * every Shardfarm Node process.
 */
export function installNodeEngines (): void {
  useSha256Engine(nodeSha256)
  useMerkleSha256(nodeMerkleSha256)
  useBase64Engine(nodeBase64)
}
