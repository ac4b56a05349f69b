import { constants, open, type FileHandle } from 'node:fs/promises'
import { ShardfarmError } from '../core/errors.ts'

/**
 * Where `shardfarm get` writes a file: in order, chunk by chunk, memory bounded.
 *
 * Buffered writes cost this machine about 2.7 ms of kernel CPU per MB, most of it copying into
 * fresh page-cache pages (1 GiB: `dd` takes 2.9 s buffered, 1.0 s with O_DIRECT), and a download is
 * CPU-bound: that copy was a third of a 1 GiB get's CPU. So the sink writes with O_DIRECT where the
 * file system takes it: chunks are gathered into two 4 MiB staging buffers, one filling while the
 * other is written, and the last one is padded to a block and the file cut back to its true size.
 * O_DIRECT needs the memory, offset and length block-aligned; an ArrayBuffer's address is only
 * 16-byte aligned, so the staging buffers are WebAssembly memories, which start on a page. Where
 * O_DIRECT is refused (at open, or by the first write) the sink writes through the page cache.
 *
 * Neither mode fsyncs: like `cp` or `curl -o`, a finished download is as durable as the file
 * system makes any freshly written file (O_DIRECT skips the page cache for the data, but the
 * file's size and the disk's own cache still wait for writeback).
 */
export interface FileSink {
  /** True when the file is written with O_DIRECT. */
  readonly direct: boolean
  /** Takes `chunk` (copied before this resolves: the caller may reuse or free it). */
  write: (chunk: Uint8Array) => Promise<void>
  /** Writes what is left and closes the file; its size is the sum of the chunks. */
  close: () => Promise<void>
  /** Closes without finishing (after an error); the file is left as it is. */
  destroy: () => Promise<void>
}

/** The staging buffer size: 64 wasm pages. Large writes keep the syscall count low. */
export const STAGE_BYTES = 4 << 20
/** Block alignment for the padded last write (the file system's block, a multiple of the device's). */
const BLOCK = 4096

export async function openFileSink (path: string, opts: { direct?: boolean, mode?: number } = {}): Promise<FileSink> {
  const mode = opts.mode ?? 0o644
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC
  // The staging memories first: where they cannot be had (an address-space limit), plain writes.
  const stages = opts.direct !== false && constants.O_DIRECT !== undefined ? stagesOrNone() : undefined
  if (stages !== undefined) {
    const fh = await open(path, flags | constants.O_DIRECT, mode).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'EINVAL') return undefined // no O_DIRECT on this file system
      throw err
    })
    if (fh !== undefined) return new DirectSink(fh, path, mode, stages)
  }
  return new BufferedSink(await open(path, flags, mode))
}

class BufferedSink implements FileSink {
  readonly direct = false
  readonly fh: FileHandle
  #pos = 0
  constructor (fh: FileHandle) { this.fh = fh }

  async write (chunk: Uint8Array): Promise<void> {
    await writeAll(this.fh, chunk, chunk.length, this.#pos)
    this.#pos += chunk.length
  }

  async close (): Promise<void> { await this.fh.close() }
  async destroy (): Promise<void> { await this.fh.close().catch(() => {}) }
}

class DirectSink implements FileSink {
  #direct = true
  #fh: FileHandle
  readonly #stages: Uint8Array[]
  #cur = 0
  /** Bytes in the current stage. */
  #fill = 0
  /** File offset of the current stage. */
  #base = 0
  /** The other stage's write, while it runs. */
  #inflight: Promise<void> | undefined
  /** Set once the page cache took over (O_DIRECT refused by the first write). */
  #buffered: BufferedSink | undefined

  readonly #path: string
  readonly #mode: number

  constructor (fh: FileHandle, path: string, mode: number, stages: Uint8Array[]) { this.#fh = fh; this.#path = path; this.#mode = mode; this.#stages = stages }

  get direct (): boolean { return this.#direct }

  async write (chunk: Uint8Array): Promise<void> {
    let off = 0
    while (off < chunk.length) {
      if (this.#buffered !== undefined) { await this.#buffered.write(chunk.subarray(off)); return }
      const n = Math.min(chunk.length - off, STAGE_BYTES - this.#fill)
      this.#stages[this.#cur]!.set(chunk.subarray(off, off + n), this.#fill)
      this.#fill += n
      off += n
      if (this.#fill === STAGE_BYTES) await this.#flush(STAGE_BYTES)
    }
  }

  /** Starts writing the current stage (`len` bytes, block-aligned) and moves on to the other one. */
  async #flush (len: number): Promise<void> {
    await this.#inflight // the other stage must be free before it is filled
    const buf = this.#stages[this.#cur]!
    const at = this.#base
    if (at === 0) {
      // The first write tells whether the device takes these writes; if not, start over buffered.
      try {
        await writeAll(this.#fh, buf, len, at)
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EINVAL') throw err
        await this.#fh.close()
        this.#direct = false
        this.#buffered = new BufferedSink(await open(this.#path, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC, this.#mode))
        await this.#buffered.write(buf.subarray(0, this.#fill))
        return
      }
    } else {
      const p = writeAll(this.#fh, buf, len, at)
      p.catch(() => {}) // awaited by the next flush or by close; never unhandled meanwhile
      this.#inflight = p
    }
    this.#base += STAGE_BYTES
    this.#cur ^= 1
    this.#fill = 0
  }

  async close (): Promise<void> {
    const size = this.#base + this.#fill
    if (this.#fill > 0 && this.#buffered === undefined) {
      const padded = Math.ceil(this.#fill / BLOCK) * BLOCK
      this.#stages[this.#cur]!.fill(0, this.#fill, padded)
      await this.#flush(padded)
    }
    if (this.#buffered !== undefined) { await this.#buffered.close(); return }
    await this.#inflight
    await this.#fh.truncate(size) // drop the last block's padding
    await this.#fh.close()
  }

  async destroy (): Promise<void> {
    await this.#inflight?.catch(() => {})
    await (this.#buffered?.fh ?? this.#fh).close().catch(() => {})
  }
}

/** Two staging buffers, or none where wasm memories cannot be had (a RangeError under `ulimit -v`). */
function stagesOrNone (): Uint8Array[] | undefined {
  try { return [stage(), stage()] } catch { return undefined }
}

function stage (): Uint8Array {
  // A wasm memory's bytes start on a page boundary, as O_DIRECT needs.
  return new Uint8Array(new WebAssembly.Memory({ initial: STAGE_BYTES / 65536, maximum: STAGE_BYTES / 65536 }).buffer)
}

async function writeAll (fh: FileHandle, buf: Uint8Array, len: number, at: number): Promise<void> {
  let off = 0
  while (off < len) {
    const { bytesWritten } = await fh.write(buf, off, len - off, at + off)
    if (bytesWritten === 0) throw new ShortWriteError(at + off, len - off)
    off += bytesWritten
  }
}

/** The file system accepted none of a write's bytes; writing again would only loop. */
export class ShortWriteError extends ShardfarmError {
  constructor (offset: number, bytes: number) {
    super('ShortWriteError', 'SHORT_WRITE', `The file system wrote none of ${bytes} bytes at offset ${offset}`, { offset, bytes })
  }
}
