import { open } from 'node:fs/promises'
import { resolve } from 'node:path'
import type { ByteSource } from '../ports.ts'

/**
 * A file as a `ByteSource`, plus the identity used to key its journal: path, size, mtime and ctime.
 * The ctime changes with any write, even one that puts the old mtime back (`cp -p`, `touch -r`),
 * so a changed file never resumes an upload sealed under the same key and nonces.
 */
export async function openFileSource (path: string): Promise<{ source: ByteSource, sourceKey: string, close: () => Promise<void> }> {
  const fh = await open(path, 'r')
  const st = await fh.stat()
  const readFully = async (offset: number, buf: Uint8Array): Promise<void> => {
    let at = 0
    while (at < buf.length) {
      const { bytesRead } = await fh.read(buf, at, buf.length - at, offset + at)
      if (bytesRead === 0) throw new Error(`${path} shrank while it was being read`)
      at += bytesRead
    }
  }
  const source: ByteSource = {
    fresh: true,
    size: st.size,
    async read (offset, length) {
      const buf = new Uint8Array(length)
      await readFully(offset, buf)
      return buf
    },
    readInto: readFully
  }
  return { source, sourceKey: `${resolve(path)}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`, close: async () => { await fh.close() } }
}
