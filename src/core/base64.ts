/**
 * Standard padded base64 (RFC 4648 §4) without `atob`/`btoa` and their byte-per-character strings:
 * audits move 16 KiB of leaves and their paths as base64 in JSON, and decoding them with
 * `atob` plus `Uint8Array.from` cost an auditor more than checking the proof. Platform-neutral;
 * a platform with a native coder installs it (`useBase64Engine`).
 */
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
const VALUE = new Int16Array(128).fill(-1)
for (let i = 0; i < ALPHABET.length; i++) VALUE[ALPHABET.charCodeAt(i)] = i

/** The base64 coder in use: the portable one below unless a platform installed its own. */
export interface Base64Engine {
  encode: (bytes: Uint8Array) => string
  /** Decodes text already checked to be standard padded base64 (canonical, as `decodeBase64` checks). */
  decode: (text: string) => Uint8Array
}

let engine: Base64Engine | undefined

/**
 * Makes `encodeBase64` and `decodeBase64` use `native` (Node's `Buffer`, dozens of times faster on
 * an audit's leaves); `undefined` goes back to the portable code. The checks of `decodeBase64`
 * stay: only canonical text reaches `native.decode`.
 */
export function useBase64Engine (native: Base64Engine | undefined): void {
  engine = native
}

/** ASCII codes of the alphabet, and a decoder from them to a string (one native call, no per-character strings). */
const CODES = Uint8Array.from(ALPHABET, c => c.charCodeAt(0))
const ascii = new TextDecoder('latin1')

/** Base64 (standard, padded) of `bytes`. */
export function encodeBase64 (bytes: Uint8Array): string {
  if (engine !== undefined) return engine.encode(bytes)
  const out = new Uint8Array(Math.ceil(bytes.length / 3) * 4)
  const whole = bytes.length - bytes.length % 3
  let o = 0
  for (let i = 0; i < whole; i += 3) {
    const v = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!
    out[o++] = CODES[v >> 18]!
    out[o++] = CODES[(v >> 12) & 63]!
    out[o++] = CODES[(v >> 6) & 63]!
    out[o++] = CODES[v & 63]!
  }
  if (whole < bytes.length) {
    const a = bytes[whole]!
    const b = whole + 1 < bytes.length ? bytes[whole + 1]! : 0
    out[o++] = CODES[a >> 2]!
    out[o++] = CODES[((a & 3) << 4) | (b >> 4)]!
    out[o++] = whole + 1 < bytes.length ? CODES[(b & 15) << 2]! : 61
    out[o] = 61
  }
  return ascii.decode(out)
}

/**
 * Bytes of a standard padded base64 string, or undefined when it is not one: a length that is not
 * a multiple of 4, a character outside the alphabet, padding anywhere but the last one or two
 * places, or bits left over in the last character (only one text decodes to given bytes).
 */
export function decodeBase64 (s: string): Uint8Array | undefined {
  if (engine !== undefined) return CANONICAL.test(s) ? engine.decode(s) : undefined
  if (s.length % 4 !== 0) return undefined
  const pad = s.endsWith('==') ? 2 : s.endsWith('=') ? 1 : 0
  const out = new Uint8Array((s.length / 4) * 3 - pad)
  let o = 0
  for (let i = 0; i < s.length; i += 4) {
    const last = i + 4 === s.length
    const a = value(s, i)
    const b = value(s, i + 1)
    const c = last && pad === 2 ? 0 : value(s, i + 2)
    const d = last && pad >= 1 ? 0 : value(s, i + 3)
    if ((a | b | c | d) < 0) return undefined
    const n = (a << 18) | (b << 12) | (c << 6) | d
    out[o++] = n >> 16
    if (o < out.length) out[o++] = (n >> 8) & 255
    if (o < out.length) out[o++] = n & 255
    if (last && (pad === 2 ? (b & 15) !== 0 : pad === 1 ? (c & 3) !== 0 : false)) return undefined
  }
  return out
}

/**
 * Standard padded base64 whose unused bits are zero: the text `decodeBase64` accepts, checked in
 * one native pass before an installed engine decodes it. The character before `==` carries 2 bits
 * (A, Q, g or w), the one before `=` 4 bits (a multiple of 4 in the alphabet).
 */
const CANONICAL = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/][AQgw]==|[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=)?$/

function value (s: string, i: number): number {
  const code = s.charCodeAt(i)
  return code < 128 ? VALUE[code]! : -1
}
