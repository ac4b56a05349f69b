import type { ByteSource } from '../ports.ts'

/** A browser `File` or `Blob` as a `ByteSource`: reads slices, never the whole file. */
export function blobSource (file: Blob): ByteSource {
  return { size: file.size, fresh: true, read: async (offset, length) => new Uint8Array(await file.slice(offset, offset + length).arrayBuffer()) }
}
