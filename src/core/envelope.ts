import { ShardfarmError } from './errors.ts'

/**
 * The crypto envelope: AES-256-GCM through WebCrypto (the same API in Node, browsers and workers).
 *
 * Every file gets its own random 256-bit key, so nonces only need to be unique within one file:
 * a segment's nonce is its index (prefix 0x00000000). The associated data binds the file id, the
 * segment index and the segment count, so a farmer (or anyone) cannot swap segments between files,
 * reorder them, or drop trailing ones without the tag failing.
 *
 * A resumed upload re-encrypts a segment under the same key and nonce; that is safe only if the
 * plaintext is the same, which the upload journal checks (segment hashes) before reusing a key.
 *
 * A manifest's plaintext is not fixed that way: a resumed upload may seal a different one (a
 * farmer moved, a fragment went elsewhere) under the same key. So every sealing draws a fresh
 * random nonce and carries it in the sealed bytes (format 2, below). Format 1, the fixed nonce
 * 0xffffffff ‖ 0, is only ever opened, never sealed, so links made before keep working.
 */

export const KEY_BYTES = 32
export const FILE_ID_BYTES = 16
export const TAG_BYTES = 16
const SEGMENT_PREFIX = 0x00000000
/** Format 1 sealed every manifest under nonce(MANIFEST_PREFIX, 0); still opened, never sealed. */
const MANIFEST_PREFIX = 0xffffffff
const NONCE_BYTES = 12
/** 'S', 'F', 'M', then the format number: how a format-2 sealed manifest begins. */
const MANIFEST_MAGIC = Uint8Array.of(0x53, 0x46, 0x4d, 0x02)
/** The bytes before a format-2 manifest's ciphertext: magic ‖ nonce. */
export const MANIFEST_HEADER_BYTES = MANIFEST_MAGIC.length + NONCE_BYTES
/** A sealed manifest (format 2) is its plaintext plus this many bytes: header and tag. */
export const MANIFEST_OVERHEAD = MANIFEST_HEADER_BYTES + TAG_BYTES
const enc = new TextEncoder()

/** Decryption failed: wrong key, tampered bytes, or a segment put where it does not belong. */
export class AuthenticationError extends ShardfarmError {
  constructor (what: string) {
    super('AuthenticationError', 'AUTHENTICATION_FAILED',
      `Could not authenticate the ${what}: the key is wrong or the data was changed`, { what })
  }
}

/** A fresh random file key (raw bytes; they travel only inside read capabilities). */
export function generateFileKey (): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(KEY_BYTES))
}

/** A fresh random file id. */
export function generateFileId (): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(FILE_ID_BYTES))
}

/** Imports a raw key for AES-GCM; the CryptoKey is not extractable. */
export async function importFileKey (raw: Uint8Array): Promise<CryptoKey> {
  if (raw.length !== KEY_BYTES) throw new RangeError(`A file key is ${KEY_BYTES} bytes, got ${raw.length}`)
  return await crypto.subtle.importKey('raw', raw as Uint8Array<ArrayBuffer>, 'AES-GCM', false, ['encrypt', 'decrypt'])
}

/** What the verify key is derived for: HKDF's info, so no other use of the file key can yield it. */
const VERIFY_KEY_INFO = enc.encode('shardfarm verify key/2')

/**
 * The verify key of a file: HKDF-SHA-256 of the file key. It opens the verify manifest (fragment
 * ids, holders, Merkle roots) and nothing else, and the file key cannot be computed from it, so a
 * verify link lets its holder audit and repair a file without reading it.
 */
export async function deriveVerifyKey (fileKey: Uint8Array): Promise<Uint8Array> {
  if (fileKey.length !== KEY_BYTES) throw new RangeError(`A file key is ${KEY_BYTES} bytes, got ${fileKey.length}`)
  const base = await crypto.subtle.importKey('raw', fileKey as Uint8Array<ArrayBuffer>, 'HKDF', false, ['deriveBits'])
  const bits = await crypto.subtle.deriveBits({ name: 'HKDF', hash: 'SHA-256', salt: new Uint8Array(0), info: VERIFY_KEY_INFO }, base, KEY_BYTES * 8)
  return new Uint8Array(bits)
}

function nonce (prefix: number, index: number): Uint8Array<ArrayBuffer> {
  const n = new Uint8Array(12)
  const v = new DataView(n.buffer)
  v.setUint32(0, prefix)
  v.setBigUint64(4, BigInt(index))
  return n
}

function segmentAad (fileId: Uint8Array, index: number, count: number): Uint8Array<ArrayBuffer> {
  const label = enc.encode('shardfarm/segment/v1')
  const out = new Uint8Array(label.length + FILE_ID_BYTES + 16)
  out.set(label)
  out.set(fileId, label.length)
  const v = new DataView(out.buffer, label.length + FILE_ID_BYTES)
  v.setBigUint64(0, BigInt(index))
  v.setBigUint64(8, BigInt(count))
  return out
}

/** Format 1: label ‖ file id. Format 2: another label ‖ file id ‖ the 16 header bytes (magic and nonce). */
function manifestAad (fileId: Uint8Array, header?: Uint8Array): Uint8Array<ArrayBuffer> {
  const label = enc.encode(header === undefined ? 'shardfarm/manifest/v1' : 'shardfarm/manifest/v2')
  const out = new Uint8Array(label.length + FILE_ID_BYTES + (header?.length ?? 0))
  out.set(label)
  out.set(fileId, label.length)
  if (header !== undefined) out.set(header, label.length + FILE_ID_BYTES)
  return out
}

/**
 * A fresh random 96-bit nonce for one manifest sealing. One whose first four bytes are a reserved
 * prefix (segments' or format 1's; a chance of 2^-31) is drawn again, so it can never equal the
 * nonce of a segment or of a format-1 manifest under the same key.
 */
function manifestNonce (): Uint8Array<ArrayBuffer> {
  const n = new Uint8Array(NONCE_BYTES)
  const v = new DataView(n.buffer)
  do { crypto.getRandomValues(n) } while (v.getUint32(0) === SEGMENT_PREFIX || v.getUint32(0) === MANIFEST_PREFIX)
  return n
}

function checkIndex (index: number, count: number): void {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(count) || index < 0 || index >= count) {
    throw new RangeError(`Segment ${index} is not within 0..${count - 1}`)
  }
}

/**
 * AES-256-GCM over one segment: ciphertext ‖ 16-byte tag. `decrypt` rejects (with any error) when
 * the tag does not verify. The WebCrypto engine below runs everywhere; Node has a leaner one
 * (`src/client/cipher.node.ts`) because its WebCrypto copies a segment twice per call.
 */
export interface SegmentCipher {
  /**
   * With `into` (exactly `plaintext.length + TAG_BYTES` bytes), an engine that can writes the
   * result there and returns `into`; one that cannot (WebCrypto) returns a new buffer, and the
   * caller copies.
   */
  encrypt: (key: CryptoKey, iv: Uint8Array<ArrayBuffer>, aad: Uint8Array<ArrayBuffer>, plaintext: Uint8Array, into?: Uint8Array) => Promise<Uint8Array>
  /**
   * With `into` (exactly the plaintext's length), an engine that can writes the plaintext there and
   * returns it; others return a new buffer. Either way `into` holds no plaintext if the tag fails.
   */
  decrypt: (key: CryptoKey, iv: Uint8Array<ArrayBuffer>, aad: Uint8Array<ArrayBuffer>, ciphertext: Uint8Array, into?: Uint8Array) => Promise<Uint8Array>
}

export const webCryptoCipher: SegmentCipher = {
  async encrypt (key, iv, aad, plaintext) {
    return new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: aad }, key, plaintext as Uint8Array<ArrayBuffer>))
  },
  async decrypt (key, iv, aad, ciphertext) {
    return new Uint8Array(await crypto.subtle.decrypt({ name: 'AES-GCM', iv, additionalData: aad }, key, ciphertext as Uint8Array<ArrayBuffer>))
  }
}

/**
 * Encrypts segment `index` of `count`; the result is `plaintext.length + TAG_BYTES` bytes, in `into`
 * when given (whatever the engine).
 */
export async function encryptSegment (key: CryptoKey, fileId: Uint8Array, index: number, count: number, plaintext: Uint8Array,
  cipher: SegmentCipher = webCryptoCipher, into?: Uint8Array): Promise<Uint8Array> {
  checkIndex(index, count)
  if (into !== undefined && into.length !== plaintext.length + TAG_BYTES) {
    throw new RangeError(`A ${plaintext.length}-byte segment encrypts to ${plaintext.length + TAG_BYTES} bytes, not ${into.length}`)
  }
  const ct = await cipher.encrypt(key, nonce(SEGMENT_PREFIX, index), segmentAad(fileId, index, count), plaintext, into)
  if (into === undefined || ct === into) return ct
  into.set(ct)
  return into
}

/** Decrypts and authenticates segment `index` of `count`, or throws `AuthenticationError`. */
export async function decryptSegment (key: CryptoKey, fileId: Uint8Array, index: number, count: number, ciphertext: Uint8Array,
  cipher: SegmentCipher = webCryptoCipher, into?: Uint8Array): Promise<Uint8Array> {
  checkIndex(index, count)
  if (into !== undefined && into.length !== ciphertext.length - TAG_BYTES) {
    throw new RangeError(`A ${ciphertext.length}-byte segment decrypts to ${ciphertext.length - TAG_BYTES} bytes, not ${into.length}`)
  }
  try {
    return await cipher.decrypt(key, nonce(SEGMENT_PREFIX, index), segmentAad(fileId, index, count), ciphertext, into)
  } catch {
    throw new AuthenticationError(`segment ${index}`)
  }
}

/**
 * Encrypts manifest bytes for `fileId` in format 2:
 *
 *     sealed = magic (53 46 4d 02) ‖ nonce (12 random bytes) ‖ AES-256-GCM ciphertext ‖ tag (16)
 *     AAD    = "shardfarm/manifest/v2" ‖ file id (16) ‖ magic ‖ nonce
 *
 * Each call draws a new nonce, so sealing the same manifest twice gives different bytes (and a
 * different manifest id).
 */
export async function sealBytes (key: CryptoKey, fileId: Uint8Array, plaintext: Uint8Array): Promise<Uint8Array> {
  const iv = manifestNonce()
  const header = new Uint8Array(MANIFEST_HEADER_BYTES)
  header.set(MANIFEST_MAGIC)
  header.set(iv, MANIFEST_MAGIC.length)
  const ct = await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: manifestAad(fileId, header) },
    key, plaintext as Uint8Array<ArrayBuffer>)
  const sealed = new Uint8Array(MANIFEST_HEADER_BYTES + ct.byteLength)
  sealed.set(header)
  sealed.set(new Uint8Array(ct), MANIFEST_HEADER_BYTES)
  return sealed
}

/**
 * Decrypts manifest bytes for `fileId`, or throws `AuthenticationError`. Bytes that begin with the
 * format-2 magic are opened as format 2; all others as format 1 (raw GCM output under the fixed
 * nonce, as sealed before format 2). Format-1 bytes are ciphertext and may begin with the magic by
 * chance (2^-32), so bytes that fail as format 2 are tried as format 1 before they are refused. The
 * two formats differ in nonce and associated data, so no bytes open as both: a format-2 manifest
 * whose header was stripped or changed opens as neither.
 */
export async function openBytes (key: CryptoKey, fileId: Uint8Array, sealed: Uint8Array): Promise<Uint8Array> {
  if (sealed.length >= MANIFEST_OVERHEAD && MANIFEST_MAGIC.every((b, i) => sealed[i] === b)) {
    const header = sealed.slice(0, MANIFEST_HEADER_BYTES)
    try {
      const pt = await crypto.subtle.decrypt({ name: 'AES-GCM', iv: header.slice(MANIFEST_MAGIC.length), additionalData: manifestAad(fileId, header) },
        key, sealed.subarray(MANIFEST_HEADER_BYTES) as Uint8Array<ArrayBuffer>)
      return new Uint8Array(pt)
    } catch {
      // Not format 2 after all (or changed): tried as format 1 below.
    }
  }
  try {
    const pt = await crypto.subtle.decrypt({ name: 'AES-GCM', iv: nonce(MANIFEST_PREFIX, 0), additionalData: manifestAad(fileId) },
      key, sealed as Uint8Array<ArrayBuffer>)
    return new Uint8Array(pt)
  } catch {
    throw new AuthenticationError('manifest')
  }
}
