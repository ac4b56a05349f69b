/**
 * Frees segment-sized buffers as soon as a pipeline is done with them.
 *
 * A buffer's memory normally goes back only when the garbage collector finds its last reference.
 * For segment buffers that is too late: a 1 MiB fragment handed to libp2p is referenced from stream
 * objects that outlive a young-generation collection, so it waits for the next full collection,
 * and every segment in between stays resident with it. `ArrayBuffer.prototype.transfer(0)`
 * detaches the buffer and frees its memory at once (views over it become empty).
 *
 * Only call this on buffers the caller owns and will not read again; anything else still holding a
 * view sees zero bytes. Buffers that cannot be detached are left alone: SharedArrayBuffers, wasm
 * memories, small ones (which may be slices of Node's shared `Buffer` pool), and everything on
 * engines without `transfer`.
 */

/** Below this a buffer may be a pooled slab shared with others; it is never released. */
export const RELEASE_MIN_BYTES = 64 * 1024

type Transferable = ArrayBuffer & { transfer?: (length: number) => ArrayBuffer, readonly detached?: boolean }

/**
 * Frees the memory under each view now. Views over the same buffer are fine (it is freed once).
 * Returns the number of bytes freed.
 */
export function releaseBytes (...views: Array<Uint8Array | undefined>): number {
  let freed = 0
  const seen = new Set<ArrayBufferLike>()
  for (const v of views) {
    if (v === undefined || seen.has(v.buffer)) continue
    seen.add(v.buffer)
    const buf = v.buffer as Transferable
    if (!(buf instanceof ArrayBuffer) || typeof buf.transfer !== 'function' || buf.detached === true) continue
    const bytes = buf.byteLength
    if (bytes < RELEASE_MIN_BYTES) continue
    try {
      buf.transfer(0)
      freed += bytes
    } catch {
      // not detachable (a wasm memory, or pinned by the engine): the collector will have it
    }
  }
  return freed
}
