/**
 * Owner keys: the Ed25519 key pair that claims fragments, the delete signature that binds a request
 * to one fragment, one farmer and one moment, and the renew signature that binds a batch of ids
 * (by the SHA-256 of the request body) to one farmer and one moment. Pure WebCrypto (`crypto.subtle`), which
 * has Ed25519 in Node 22 and Chromium, so the browser uploader and the Node farmer share this file.
 *
 * The signed messages are spelled out in `docs/protocol.md` ("DELETE authorisation", "RENEW"); change
 * them only together with the protocol version. Neither names the owner key: the farmer verifies
 * with the key the request names, and an Ed25519 signature verifies under one key only, so a
 * signature cannot be moved to another owner's claim.
 */
import { encodeBase64 } from './base64.ts'
import { ShardfarmError } from './errors.ts'

/** An owner key pair. `publicKey` is what a PUT carries and what `FragmentMeta.owner` stores. */
export interface OwnerKey {
  /** Canonical base64 (standard alphabet, padded) of the raw 32-byte Ed25519 public key. */
  readonly publicKey: string
  /** The WebCrypto private key; signs delete requests. */
  readonly privateKey: CryptoKey
}

/** The fields of a DELETE request that the owner's signature covers. */
export interface DeleteClaim {
  /** Fragment id (64 lowercase hex). */
  id: string
  /** The farmer's peer id as a string (`12D3KooW…`): a signature for one farmer is useless on another. */
  farmer: string
  /** Milliseconds since the epoch when the request was signed; farmers refuse stale ones. */
  ts: number
  /** Base64 of 16 random bytes; farmers remember it for the skew window, so a signature is used once. */
  nonce: string
}

/**
 * Domain tag and first line of every delete message: a signature cannot be lifted from another
 * context. It keeps its 1.0 spelling: the delete message did not change in 2.0.
 */
export const DELETE_SIGNATURE_DOMAIN = '/shardfarm/fragment/1.0.0 DELETE'

/** The fields of a RENEW request that the owner's signature covers. */
export interface RenewClaim {
  /** The farmer's peer id as a string: a renewal for one farmer is useless on another. */
  farmer: string
  /** Milliseconds since the epoch when the request was signed. */
  ts: number
  /** Base64 of 16 random bytes, used once. */
  nonce: string
  /** Lowercase hex SHA-256 of the request body (the raw ids), so the signature covers every id. */
  body: string
}

/** Domain tag and first line of every renew message. */
export const RENEW_SIGNATURE_DOMAIN = '/shardfarm/fragment/2.0.0 RENEW'

const ED25519 = { name: 'Ed25519' }
// PKCS#8 wrapping of a 32-byte Ed25519 seed (RFC 8410): a fixed 16-byte prefix, then the seed.
const PKCS8_PREFIX = [0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]

/** Base64 (standard, padded) of `bytes`. */
export function toBase64 (bytes: Uint8Array): string {
  return encodeBase64(bytes)
}

/** Bytes of a standard base64 string; throws `InvalidOwnerKeyError` on malformed input. */
export function fromBase64 (s: string): Uint8Array {
  let bin: string
  try { bin = atob(s) } catch { throw new InvalidOwnerKeyError('Malformed base64') }
  return Uint8Array.from(bin, c => c.charCodeAt(0))
}

/** A key, a signature or a seed has the wrong shape. */
export class InvalidOwnerKeyError extends ShardfarmError {
  constructor (message: string) {
    super('InvalidOwnerKeyError', 'BAD_REQUEST', message)
  }
}

/** Makes a fresh owner key pair. The private key is not extractable (what is kept is a seed). */
export async function generateOwnerKey (): Promise<OwnerKey> {
  const pair = await crypto.subtle.generateKey(ED25519, false, ['sign', 'verify']) as CryptoKeyPair
  const raw = new Uint8Array(await crypto.subtle.exportKey('raw', pair.publicKey))
  return { publicKey: toBase64(raw), privateKey: pair.privateKey }
}

/**
 * The owner key for a 32-byte seed, e.g. one derived from a capability: the same seed always gives
 * the same key, so whoever holds the capability can delete what it uploaded.
 */
export async function ownerKeyFromSeed (seed: Uint8Array): Promise<OwnerKey> {
  if (seed.byteLength !== 32) throw new InvalidOwnerKeyError('An Ed25519 seed is 32 bytes')
  const pkcs8 = new Uint8Array(48)
  pkcs8.set(PKCS8_PREFIX)
  pkcs8.set(seed, 16)
  // WebCrypto cannot derive a public key directly; the private JWK carries it as `x`. That needs
  // an extractable key, used only here: the key handed out is imported again, not extractable.
  const exportable = await crypto.subtle.importKey('pkcs8', pkcs8, ED25519, true, ['sign'])
  const jwk = await crypto.subtle.exportKey('jwk', exportable)
  if (jwk.x === undefined) throw new InvalidOwnerKeyError('Platform did not export the public key')
  const raw = fromBase64(jwk.x.replace(/-/g, '+').replace(/_/g, '/') + '=')
  const privateKey = await crypto.subtle.importKey('pkcs8', pkcs8, ED25519, false, ['sign'])
  pkcs8.fill(0)
  return { publicKey: toBase64(raw), privateKey }
}

/** The exact bytes an owner signs to delete: UTF-8 of six lines joined by `\n`. */
export function deleteMessage (claim: DeleteClaim): Uint8Array {
  return new TextEncoder().encode(
    [DELETE_SIGNATURE_DOMAIN, claim.id, claim.farmer, String(claim.ts), claim.nonce].join('\n'))
}

/** A fresh nonce: base64 of 16 random bytes. */
export function newNonce (): string {
  return toBase64(crypto.getRandomValues(new Uint8Array(16)))
}

/** The exact bytes an owner signs to renew: UTF-8 of five lines joined by `\n`. */
export function renewMessage (claim: RenewClaim): Uint8Array {
  return new TextEncoder().encode([RENEW_SIGNATURE_DOMAIN, claim.farmer, String(claim.ts), claim.nonce, claim.body].join('\n'))
}

/** Signs a delete claim; returns the base64 of the 64-byte Ed25519 signature. */
export async function signDelete (key: OwnerKey, claim: DeleteClaim): Promise<string> {
  return await sign(key, deleteMessage(claim))
}

/**
 * True when `sig` is `owner`'s signature over `claim`. Malformed keys or signatures give false
 * rather than an error: to the farmer they are all the same refusal (`FORBIDDEN`).
 */
export async function verifyDelete (owner: string, claim: DeleteClaim, sig: string): Promise<boolean> {
  return await verify(owner, deleteMessage(claim), sig)
}

/** Signs a renew claim; returns the base64 of the 64-byte Ed25519 signature. */
export async function signRenew (key: OwnerKey, claim: RenewClaim): Promise<string> {
  return await sign(key, renewMessage(claim))
}

/** True when `sig` is `owner`'s signature over `claim`; false for anything malformed. */
export async function verifyRenew (owner: string, claim: RenewClaim, sig: string): Promise<boolean> {
  return await verify(owner, renewMessage(claim), sig)
}

async function sign (key: OwnerKey, message: Uint8Array): Promise<string> {
  const sig = await crypto.subtle.sign(ED25519, key.privateKey, message as Uint8Array<ArrayBuffer>)
  return toBase64(new Uint8Array(sig))
}

async function verify (owner: string, message: Uint8Array, sig: string): Promise<boolean> {
  try {
    const raw = fromBase64(owner)
    const signature = fromBase64(sig)
    if (raw.byteLength !== 32 || signature.byteLength !== 64) return false
    const key = await crypto.subtle.importKey('raw', raw as Uint8Array<ArrayBuffer>, ED25519, false, ['verify'])
    return await crypto.subtle.verify(ED25519, key, signature as Uint8Array<ArrayBuffer>, message as Uint8Array<ArrayBuffer>)
  } catch {
    return false
  }
}
