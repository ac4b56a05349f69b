/**
 * Delegations: an owner lets another key (a keeper's) set and renew claims that stay the owner's.
 * The owner signs `{owner, delegate, scope, expiresAt}` once; the delegate then signs each PUT or
 * RENEW it makes with its own key and sends the delegation beside it. A farmer checks both
 * signatures and records the claim under the owner's key, so the owner's signed DELETE removes the
 * copies a keeper placed, and no delegate can delete anything (DELETE takes no delegation).
 *
 * `scope` is a manifest id or `any`. A farmer cannot tell which file a fragment belongs to, so the
 * scope binds the delegate (a keeper uses a delegation only for the file it names), and it is inside
 * the owner's signature so nobody can widen it. The signed messages are spelled out in
 * `docs/protocol.md` ("Delegated claims"); pure WebCrypto, so the app and the farmer share this file.
 */
import { ShardfarmError } from './errors.ts'
import { isFragmentId, isOwnerKey } from './fragment-store.ts'
import { fromBase64, toBase64, type OwnerKey } from './owner-key.ts'

/** Domain tag and first line of every delegation message. */
export const DELEGATION_SIGNATURE_DOMAIN = 'shardfarm delegation/1'
/** Domain tag of a delegate's PUT signature. */
export const DELEGATED_PUT_DOMAIN = '/shardfarm/fragment/2.0.0 PUT delegated'
/** Domain tag of a delegate's RENEW signature. */
export const DELEGATED_RENEW_DOMAIN = '/shardfarm/fragment/2.0.0 RENEW delegated'
/** Longest a delegation may run, from when it is checked. @default 400 days */
export const MAX_DELEGATION_MS = 400 * 24 * 3600_000
/** Largest delegation as JSON, in bytes (a well-formed one is about 330). */
export const MAX_DELEGATION_BYTES = 1024
/** The scope that lets the delegate keep every file of the owner. */
export const ANY_SCOPE = 'any'

/** An owner's signed permission for `delegate` to claim on its behalf until `expiresAt`. */
export interface Delegation {
  /** Base64 of the owner's raw Ed25519 public key: the key the claims are recorded under. */
  owner: string
  /** Base64 of the delegate's raw Ed25519 public key: the key that signs each request. */
  delegate: string
  /** A manifest id (64 lowercase hex), or `any`. */
  scope: string
  /** Milliseconds since the epoch after which the delegation is refused. */
  expiresAt: number
  /** Base64 of the owner's 64-byte Ed25519 signature over `delegationMessage`. */
  sig: string
}

/**
 * A key that acts for an owner: `publicKey` is the owner's (claims go under it), `privateKey` the
 * delegate's. The farmer client sends `delegation` with every PUT and RENEW made with it; a DELETE
 * signed with it is refused, as it should be.
 */
export interface DelegatedKey extends OwnerKey {
  readonly delegation: Delegation
}

/** Why a delegation is refused. */
export type DelegationRefusal = 'malformed' | 'bad-signature' | 'expired' | 'too-long' | 'wrong-owner' | 'wrong-delegate' | 'wrong-scope'

/** A delegation is malformed, forged, expired, or for another owner, delegate or file. */
export class DelegationError extends ShardfarmError {
  constructor (reason: DelegationRefusal, message: string) {
    super('DelegationError', 'FORBIDDEN', message, { reason })
  }
}

/** The exact bytes an owner signs to delegate: UTF-8 of five lines joined by `\n`. */
export function delegationMessage (d: Omit<Delegation, 'sig'>): Uint8Array {
  return new TextEncoder().encode([DELEGATION_SIGNATURE_DOMAIN, d.owner, d.delegate, d.scope, String(d.expiresAt)].join('\n'))
}

/** The bytes a delegate signs for a PUT: domain, fragment id, farmer peer id, ts, nonce. */
export function delegatedPutMessage (c: { id: string, farmer: string, ts: number, nonce: string }): Uint8Array {
  return new TextEncoder().encode([DELEGATED_PUT_DOMAIN, c.id, c.farmer, String(c.ts), c.nonce].join('\n'))
}

/** The bytes a delegate signs for a RENEW: RENEW's message under its own domain. */
export function delegatedRenewMessage (c: { farmer: string, ts: number, nonce: string, body: string }): Uint8Array {
  return new TextEncoder().encode([DELEGATED_RENEW_DOMAIN, c.farmer, String(c.ts), c.nonce, c.body].join('\n'))
}

/** Signs a delegation of `owner`'s claims to `delegate` (a base64 public key). */
export async function signDelegation (owner: OwnerKey, delegate: string, scope: string, expiresAt: number): Promise<Delegation> {
  const d = { owner: owner.publicKey, delegate, scope, expiresAt }
  const sig = await crypto.subtle.sign({ name: 'Ed25519' }, owner.privateKey, delegationMessage(d) as Uint8Array<ArrayBuffer>)
  return { ...d, sig: toBase64(new Uint8Array(sig)) }
}

/** The delegate's key acting under `delegation`. */
export function delegatedKey (delegate: OwnerKey, delegation: Delegation): DelegatedKey {
  return { publicKey: delegation.owner, privateKey: delegate.privateKey, delegation }
}

/** True when `key` acts for an owner under a delegation. */
export function isDelegatedKey (key: Pick<OwnerKey, 'publicKey'>): key is DelegatedKey {
  return typeof (key as { delegation?: unknown }).delegation === 'object' && (key as { delegation?: unknown }).delegation !== null
}

/** Checks the shape of an untrusted value; `DelegationError` (`malformed`) when it is not a delegation. */
export function parseDelegation (v: unknown): Delegation {
  const o = (typeof v === 'object' && v !== null && !Array.isArray(v) ? v : undefined) as Record<string, unknown> | undefined
  const bad = (why: string): never => { throw new DelegationError('malformed', `Malformed delegation: ${why}`) }
  if (o === undefined) return bad('not an object')
  if (JSON.stringify(o).length > MAX_DELEGATION_BYTES) bad(`over ${MAX_DELEGATION_BYTES} bytes`)
  if (!isOwnerKey(o.owner)) bad('owner is not a public key')
  if (!isOwnerKey(o.delegate)) bad('delegate is not a public key')
  if (o.scope !== ANY_SCOPE && !isFragmentId(o.scope)) bad('scope is neither a manifest id nor "any"')
  if (!Number.isSafeInteger(o.expiresAt) || (o.expiresAt as number) < 0) bad('expiresAt is not milliseconds since the epoch')
  if (typeof o.sig !== 'string' || o.sig.length !== 88) bad('sig is not base64 of 64 bytes')
  return { owner: o.owner as string, delegate: o.delegate as string, scope: o.scope as string, expiresAt: o.expiresAt as number, sig: o.sig as string }
}

/** What a delegation must match to be accepted; absent fields are not checked. */
export interface DelegationExpectation {
  /** The owner whose claims are at stake. */
  owner?: string
  /** The key that will sign with it. */
  delegate?: string
  /** The manifest it is used for (a delegation for `any` matches every one). */
  manifestId?: string
  /** @default Date.now() */
  now?: number
}

/**
 * Parses `v` and checks it: the owner's signature, that it has not expired nor runs further than
 * `MAX_DELEGATION_MS`, and what `expect` names. Throws `DelegationError` (`FORBIDDEN`) with
 * `details.reason` otherwise.
 */
export async function checkDelegation (v: unknown, expect: DelegationExpectation = {}): Promise<Delegation> {
  const d = parseDelegation(v)
  const now = expect.now ?? Date.now()
  if (d.expiresAt <= now) throw new DelegationError('expired', 'The delegation has expired')
  if (d.expiresAt > now + MAX_DELEGATION_MS) throw new DelegationError('too-long', 'The delegation runs longer than a farmer accepts')
  if (expect.owner !== undefined && d.owner !== expect.owner) throw new DelegationError('wrong-owner', 'The delegation is for another owner')
  if (expect.delegate !== undefined && d.delegate !== expect.delegate) throw new DelegationError('wrong-delegate', 'The delegation is for another delegate')
  if (expect.manifestId !== undefined && d.scope !== ANY_SCOPE && d.scope !== expect.manifestId) {
    throw new DelegationError('wrong-scope', 'The delegation is for another file')
  }
  if (!await verifyWith(d.owner, delegationMessage(d), d.sig)) throw new DelegationError('bad-signature', 'The delegation is not signed by its owner')
  return d
}

/** True when `sig` (base64) is `key`'s Ed25519 signature over `message`; false for anything malformed. */
export async function verifyWith (key: string, message: Uint8Array, sig: string): Promise<boolean> {
  try {
    const raw = fromBase64(key)
    const signature = fromBase64(sig)
    if (raw.byteLength !== 32 || signature.byteLength !== 64) return false
    const k = await crypto.subtle.importKey('raw', raw as Uint8Array<ArrayBuffer>, { name: 'Ed25519' }, false, ['verify'])
    return await crypto.subtle.verify({ name: 'Ed25519' }, k, signature as Uint8Array<ArrayBuffer>, message as Uint8Array<ArrayBuffer>)
  } catch {
    return false
  }
}

/** Signs `message` with the delegate's private key; base64 of the signature. */
export async function signAsDelegate (key: Pick<OwnerKey, 'privateKey'>, message: Uint8Array): Promise<string> {
  const sig = await crypto.subtle.sign({ name: 'Ed25519' }, key.privateKey, message as Uint8Array<ArrayBuffer>)
  return toBase64(new Uint8Array(sig))
}
