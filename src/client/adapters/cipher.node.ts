/**
 * AES-256-GCM for segments through `node:crypto` directly. Node's WebCrypto copies the input twice
 * (the tag split, then into the job) before the threadpool runs it, so a 10 MiB segment briefly
 * took 40 MiB; here only the output is allocated. Measured on `shardfarm get` of 1 GiB: peak RSS
 * 287–297 → 267–270 MiB and about 15 % less CPU. It runs on the calling thread, at AES-NI speed
 * (a few ms per segment).
 *
 * Both directions feed the cipher in `PIECE` slices and copy each result into one output buffer.
 * One `update()` over a whole segment made OpenSSL's output a fresh 10 MiB allocation that only a
 * GC frees, and on these VMs first-touch page faults cost about 2 ms per MiB: 34–48 ms per 10 MiB
 * segment against 7–9 ms in slices (measured in Node 22, see docs/performance.md, Encryption and hashing).
 */
import { createCipheriv, createDecipheriv, KeyObject } from 'node:crypto'
import { TAG_BYTES, type SegmentCipher } from '../../core/envelope.ts'

const keys = new WeakMap<CryptoKey, KeyObject>()
function keyObject (key: CryptoKey): KeyObject {
  let k = keys.get(key)
  if (k === undefined) {
    k = KeyObject.from(key)
    keys.set(key, k)
  }
  return k
}

/** Bytes per `update()`: small enough that each result comes from malloc's reused heap, not a new mapping. */
const PIECE = 64 * 1024

/** Runs `input` through `c` in slices, writing the output into `out` from offset 0; returns the bytes written. */
function pump (c: { update: (b: Uint8Array) => Uint8Array }, input: Uint8Array, out: Uint8Array): number {
  let at = 0
  for (let o = 0; o < input.length; o += PIECE) {
    const piece = c.update(input.subarray(o, Math.min(o + PIECE, input.length)))
    out.set(piece, at)
    at += piece.length
  }
  return at
}

export const nodeSegmentCipher: SegmentCipher = {
  async encrypt (key, iv, aad, plaintext, into) {
    const c = createCipheriv('aes-256-gcm', keyObject(key), iv)
    c.setAAD(aad)
    const out = into ?? new Uint8Array(plaintext.length + TAG_BYTES)
    const n = pump(c, plaintext, out)
    if (n !== plaintext.length || c.final().length !== 0) throw new Error('AES-GCM returned an unexpected length')
    out.set(c.getAuthTag(), plaintext.length)
    return out
  },
  async decrypt (key, iv, aad, ciphertext, into) {
    if (ciphertext.length < TAG_BYTES) throw new RangeError('shorter than a tag')
    const body = ciphertext.length - TAG_BYTES
    const d = createDecipheriv('aes-256-gcm', keyObject(key), iv)
    d.setAAD(aad)
    d.setAuthTag(ciphertext.subarray(body))
    const plain = into ?? new Uint8Array(body)
    const n = pump(d, ciphertext.subarray(0, body), plain)
    try {
      d.final() // throws when the tag does not verify
    } catch (err) {
      plain.fill(0) // unauthenticated bytes never stay in a buffer the caller keeps
      throw err
    }
    if (n !== body) throw new Error('AES-GCM returned an unexpected length')
    return plain
  }
}
