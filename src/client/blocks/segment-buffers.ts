import { releaseBytes } from '../../core/release.ts'

/** Where a segment's shard buffer comes from. */
export interface BufferSource {
  take: (bytes: number) => Uint8Array
}

/**
 * Segment buffers kept for reuse: a buffer handed back comes out again for a request of its size.
 * At most `keep` wait here; the rest are freed at once (`releaseBytes`).
 */
export class SegmentBuffers implements BufferSource {
  readonly #free: ArrayBuffer[] = []
  readonly #keep: number

  constructor (keep: number) {
    this.#keep = keep
  }

  /** Buffers waiting to be reused. */
  get idle (): number {
    return this.#free.length
  }

  /** A buffer of `bytes`: a returned one when there is one of that size (its old bytes still in it), else a new one. */
  take (bytes: number): Uint8Array {
    const i = this.#free.findIndex(b => b.byteLength === bytes)
    if (i >= 0) return new Uint8Array(this.#free.splice(i, 1)[0]!)
    return new Uint8Array(bytes)
  }

  /** Hands back the whole buffer under `view`, which the caller owns and will not read again. */
  give (view: Uint8Array): void {
    const b = view.buffer
    if (b instanceof ArrayBuffer && b.byteLength > 0 && this.#free.length < this.#keep) {
      this.#free.push(b)
    } else {
      releaseBytes(view)
    }
  }

  /** Frees every waiting buffer. */
  clear (): void {
    releaseBytes(...this.#free.splice(0).map(b => new Uint8Array(b)))
  }
}
