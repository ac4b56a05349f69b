/**
 * SHA-256 through WebCrypto, which is global in Node 22, browsers and workers alike, so the core
 * needs no `node:crypto` and the same code verifies fragments everywhere. A Node process swaps in a
 * faster engine at start (`useSha256Engine`, see `src/client/hash.node.ts`).
 */

/** Hashes `bytes` in place and returns the 32-byte SHA-256; synchronous. */
export type Sha256Engine = (bytes: Uint8Array) => Uint8Array

let engine: Sha256Engine | undefined

/**
 * Makes `sha256` (and so every fragment id and verification in this process) use `fn` instead of
 * WebCrypto; `undefined` goes back to WebCrypto. Node's `crypto.subtle.digest` copies its input
 * into a fresh buffer and hashes on the libuv pool: 2.4 GB of copies (and their page faults) in a
 * 1 GiB put, 2 % of the CLI's CPU in `memmove` alone. `node:crypto`'s hash reads the bytes where
 * they are (0.7 ms per MiB here, on the calling thread).
 */
export function useSha256Engine (fn: Sha256Engine | undefined): void {
  engine = fn
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'))

/** Lowercase hex of `bytes`. */
export function toHex (bytes: Uint8Array): string {
  let out = ''
  for (const b of bytes) out += HEX[b]
  return out
}

/** SHA-256 of `bytes`, raw (32 bytes). */
export async function sha256 (bytes: Uint8Array): Promise<Uint8Array> {
  if (engine !== undefined) return engine(bytes)
  // WebCrypto refuses views over a SharedArrayBuffer; copy those into a plain ArrayBuffer.
  const plain = bytes.buffer instanceof ArrayBuffer ? bytes as Uint8Array<ArrayBuffer> : bytes.slice()
  // Handed over as a DataView: Node 22's digest spends ~4 ms per MiB on the main thread before
  // hashing a Uint8Array or ArrayBuffer (10 MiB: 36–44 ms), and ~0.1 ms per MiB for a DataView
  // over the same bytes. Same digest; browsers take either.
  return new Uint8Array(await crypto.subtle.digest('SHA-256', new DataView(plain.buffer, plain.byteOffset, plain.byteLength)))
}

/** Lowercase hex SHA-256 of `bytes` (64 characters): the id of a fragment holding these bytes. */
export async function sha256Hex (bytes: Uint8Array): Promise<string> {
  return toHex(await sha256(bytes))
}

/** Bytes of a lowercase or uppercase hex string (even length). */
export function fromHex (hex: string): Uint8Array {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) throw new RangeError('Not a hex string')
  return Uint8Array.from({ length: hex.length / 2 }, (_, i) => parseInt(hex.slice(2 * i, 2 * i + 2), 16))
}
