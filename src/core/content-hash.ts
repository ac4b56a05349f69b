import { fromHex, sha256, toHex } from './hash.ts'

/**
 * The file content hash of a manifest: SHA-256 over the concatenated SHA-256 digests of each
 * segment's plaintext. Feed segments in order; works the same in uploads, downloads and browsers.
 */
export class ContentHasher {
  readonly #digests: Uint8Array[] = []

  /** Hashes one segment's plaintext and remembers its digest (returned, hex). */
  async add (segmentPlaintext: Uint8Array): Promise<string> {
    const d = await sha256(segmentPlaintext)
    this.#digests.push(d)
    return toHex(d)
  }

  /** Adds a digest already known (a segment stored before an upload resumed). */
  addDigest (hex: string): void {
    this.#digests.push(fromHex(hex))
  }

  async digest (): Promise<string> {
    const all = new Uint8Array(this.#digests.length * 32)
    this.#digests.forEach((d, i) => all.set(d, i * 32))
    return toHex(await sha256(all))
  }
}
