/**
 * Ed25519 signature checks for relays (Node only), where they are most of a sync's work: one farmer
 * record and one admission per listing, 20 000 checks for a directory of 10 000. libp2p's key
 * imports the public key from JWK on every call and checks on the main thread; this imports it once
 * (signers that repeat, the federation's relays, stay in a small cache) and checks on libuv's
 * thread pool, so a page of records is checked on every core while the next page is read.
 */
import { createPublicKey, verify, type KeyObject } from 'node:crypto'
import { peerIdFromString } from '@libp2p/peer-id'
import type { PeerId } from '@libp2p/interface'
import type { VerifySignature } from '../src/net/protocols/signature.ts'

/** DER of an Ed25519 SubjectPublicKeyInfo up to the 32 key bytes (RFC 8410). */
const SPKI_PREFIX = Uint8Array.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00])
/** Signers whose imported keys are kept: relays sign admissions, so a few keys sign most of them. */
const CACHED_SIGNERS = 256

const cache = new Map<string, KeyObject>()

function keyOf (peer: PeerId): KeyObject | undefined {
  const id = peer.toString()
  const hit = cache.get(id)
  if (hit !== undefined) return hit
  const pub = peer.publicKey
  if (pub?.type !== 'Ed25519') return undefined
  const der = new Uint8Array(SPKI_PREFIX.length + 32)
  der.set(SPKI_PREFIX)
  der.set(pub.raw, SPKI_PREFIX.length)
  return createPublicKey({ key: Buffer.from(der.buffer), format: 'der', type: 'spki' })
}

/**
 * Checks `sig` over `data` with the key inside `signer` (a peer id or its text), off the main thread.
 * `remember`: keep the imported key (for signers that come back, such as relays). False for any
 * failure, a malformed id or a key that is not Ed25519 included.
 */
export const verifyOffThread: VerifySignature = async (signer, data, sig, remember = false) => {
  let key: KeyObject | undefined
  let id: string
  try {
    const peer = typeof signer === 'string' ? peerIdFromString(signer) : signer
    id = peer.toString()
    key = keyOf(peer)
  } catch {
    return false
  }
  if (key === undefined || sig.byteLength !== 64) return false
  if (remember && !cache.has(id)) {
    if (cache.size >= CACHED_SIGNERS) cache.delete(cache.keys().next().value!)
    cache.set(id, key)
  }
  return await new Promise<boolean>(resolve => {
    verify(null, data, key, sig, (err, ok) => { resolve(err === null && ok) })
  })
}
