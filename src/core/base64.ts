/**
 * Standard padded base64 (RFC 4648 §4) without `atob`/`btoa` and their byte-per-character strings:
 * audits move 16 KiB of leaves and their paths as base64 in JSON, and decoding them with
 * `atob` plus `Uint8Array.from` cost an auditor more than checking the proof. Platform-neutral.
 */
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
const VALUE = new Int16Array(128).fill(-1)
for (let i = 0; i < ALPHABET.length; i++) VALUE[ALPHABET.charCodeAt(i)] = i

/** Base64 (standard, padded) of `bytes`. */
export function encodeBase64 (bytes: Uint8Array): string {
  const parts: string[] = []
  const CHUNK = 3 * 4096 // characters built a chunk at a time: no quadratic string growth
  for (let start = 0; start < bytes.length; start += CHUNK) {
    const end = Math.min(bytes.length, start + CHUNK)
    const chars: number[] = []
    for (let i = start; i < end; i += 3) {
      const a = bytes[i]!
      const b = i + 1 < end ? bytes[i + 1]! : 0
      const c = i + 2 < end ? bytes[i + 2]! : 0
      chars.push(ALPHABET.charCodeAt(a >> 2), ALPHABET.charCodeAt(((a & 3) << 4) | (b >> 4)),
        i + 1 < end ? ALPHABET.charCodeAt(((b & 15) << 2) | (c >> 6)) : 61, i + 2 < end ? ALPHABET.charCodeAt(c & 63) : 61)
    }
    parts.push(String.fromCharCode(...chars))
  }
  return parts.join('')
}

/**
 * Bytes of a standard padded base64 string, or undefined when it is not one: a length that is not
 * a multiple of 4, a character outside the alphabet, padding anywhere but the last one or two
 * places, or bits left over in the last character (only one text decodes to given bytes).
 */
export function decodeBase64 (s: string): Uint8Array | undefined {
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

function value (s: string, i: number): number {
  const code = s.charCodeAt(i)
  return code < 128 ? VALUE[code]! : -1
}
