import { ShardfarmError } from './errors.ts'
import { deriveVerifyKey, FILE_ID_BYTES, KEY_BYTES } from './envelope.ts'
import { toHex } from './hash.ts'

/**
 * Capabilities: what a link grants.
 *
 * - read: `shardfarm:r2:<base64url(fileId ‖ manifestId ‖ fileKey)>:<peer>,<peer>,…`
 * - verify/repair: `shardfarm:v2:<base64url(fileId ‖ manifestId ‖ verifyKey)>:<peer>,…`, where the
 *   verify key is derived from the file key (`deriveVerifyKey`). It opens the verify manifest, which
 *   lists fragment ids, holders and Merkle roots: enough to audit every holder and to rebuild lost
 *   fragments (Reed-Solomon works on ciphertext), never to read the file, its name or its type.
 *   Both links name the same manifest.
 * - version 1 (`r1`, `v1`), made before the verify manifest: the whole manifest was sealed under the
 *   file key, so a `v1` link carries no key and opens nothing. Both still parse; `r1` links read.
 *
 * The peers are the manifest's holders. As a web link the same string follows the `#`
 * (`https://host/#shardfarm:r1:…`): browsers never send the fragment part to a server, so the
 * key stays between the people who share the link.
 */
export interface Capability {
  kind: 'read' | 'verify'
  /** 2 for files stored with a verify manifest; 1 before. @default 1 */
  version?: 1 | 2
  /** 16 bytes. */
  fileId: Uint8Array
  /** Hex SHA-256 of the sealed manifest: its fragment id. */
  manifestId: string
  /** 32-byte file key; read capabilities only. */
  key?: Uint8Array
  /** 32-byte verify key; version-2 verify capabilities only (a read capability derives it from `key`). */
  verifyKey?: Uint8Array
  /** Peer ids holding the sealed manifest. */
  holders: string[]
}

export class CapabilityError extends ShardfarmError {
  constructor (reason: string) {
    super('CapabilityError', 'BAD_CAPABILITY', `This is not a valid Shardfarm link: ${reason}`, { reason })
  }
}

const PEER_ID = /^[1-9A-HJ-NP-Za-km-z]{32,128}$/
const MAX_HOLDERS = 64

export function formatCapability (c: Capability): string {
  if (c.fileId.length !== FILE_ID_BYTES) throw new RangeError('fileId must be 16 bytes')
  const version = c.version ?? 1
  const parts = [c.fileId, fromHex(c.manifestId)]
  if (c.kind === 'read') {
    if (c.key?.length !== KEY_BYTES) throw new RangeError('a read capability needs a 32-byte key')
    parts.push(c.key)
  } else if (version === 2) {
    if (c.verifyKey?.length !== KEY_BYTES) throw new RangeError('a version-2 verify capability needs a 32-byte verify key')
    parts.push(c.verifyKey)
  }
  const body = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) { body.set(p, at); at += p.length }
  return `shardfarm:${c.kind === 'read' ? 'r' : 'v'}${version}:${base64url(body)}:${c.holders.join(',')}`
}

/** A web link for the capability: `base` (the app's URL) with the capability as its fragment. */
export function capabilityUrl (c: Capability, base: string): string {
  return `${base.split('#')[0]}#${formatCapability(c)}`
}

/**
 * The verify/repair capability of `c`: itself when it is one, else derived from the read key. A
 * version-1 read capability gives a version-1 verify capability, which opens nothing (its manifest
 * is sealed under the file key alone): `check` and `repair` need the read link for such files.
 */
export async function verifyCapability (c: Capability): Promise<Capability> {
  if (c.kind === 'verify') return c
  const v: Capability = { kind: 'verify', fileId: c.fileId, manifestId: c.manifestId, holders: [...c.holders] }
  if (c.version === 2) {
    if (c.key === undefined) throw new RangeError('a read capability needs its key')
    v.version = 2
    v.verifyKey = await deriveVerifyKey(c.key)
  }
  return v
}

/** Parses a `shardfarm:` string or a web link carrying one after `#`. */
export function parseCapability (input: string): Capability {
  const text = input.trim()
  const hash = text.indexOf('#')
  const cap = hash >= 0 ? decodeURIComponent(text.slice(hash + 1)) : text
  const parts = cap.split(':')
  if (parts.length !== 4 || parts[0] !== 'shardfarm') throw new CapabilityError('expected shardfarm:r2:… or shardfarm:v2:…')
  const type = /^([rv])([12])$/.exec(parts[1]!)
  if (type === null) throw new CapabilityError(`unknown capability type "${parts[1]}"`)
  const kind = type[1] === 'r' ? 'read' : 'verify'
  const version = type[2] === '2' ? 2 : 1
  const body = fromBase64url(parts[2]!)
  const keyed = kind === 'read' || version === 2
  const want = FILE_ID_BYTES + 32 + (keyed ? KEY_BYTES : 0)
  if (body.length !== want) throw new CapabilityError(`the ${kind} part is ${body.length} bytes, expected ${want}`)
  const holders = parts[3] === '' ? [] : parts[3]!.split(',')
  if (holders.length === 0) throw new CapabilityError('it names no farmer holding the manifest')
  if (holders.length > MAX_HOLDERS || !holders.every(h => PEER_ID.test(h))) throw new CapabilityError('a farmer id in it is malformed')
  const c: Capability = {
    kind,
    fileId: body.slice(0, FILE_ID_BYTES),
    manifestId: toHex(body.subarray(FILE_ID_BYTES, FILE_ID_BYTES + 32)),
    holders
  }
  if (version === 2) c.version = 2
  if (kind === 'read') c.key = body.slice(FILE_ID_BYTES + 32)
  else if (keyed) c.verifyKey = body.slice(FILE_ID_BYTES + 32)
  return c
}

const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'

export function base64url (bytes: Uint8Array): string {
  let out = ''
  for (let i = 0; i < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0)
    const chars = Math.min(4, Math.ceil((bytes.length - i) * 4 / 3))
    for (let j = 0; j < chars; j++) out += B64URL[(n >> (18 - 6 * j)) & 63]
  }
  return out
}

export function fromBase64url (s: string): Uint8Array {
  if (!/^[A-Za-z0-9_-]*$/.test(s) || s.length % 4 === 1) throw new CapabilityError('it is not base64url')
  const out = new Uint8Array(Math.floor(s.length * 3 / 4))
  let bits = 0; let acc = 0; let at = 0
  for (const ch of s) {
    acc = (acc << 6) | B64URL.indexOf(ch)
    bits += 6
    if (bits >= 8) { bits -= 8; out[at++] = (acc >> bits) & 0xff }
  }
  return out
}

function fromHex (hex: string): Uint8Array {
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new RangeError('manifestId must be 64 hex characters')
  return Uint8Array.from({ length: 32 }, (_, i) => parseInt(hex.slice(2 * i, 2 * i + 2), 16))
}
