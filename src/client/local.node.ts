import { createHash } from 'node:crypto'
import { mkdir, open, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import type { ByteSource, JournalState, UploadJournal } from './ports.ts'

/**
 * What the CLI keeps on this machine, under `SHARDFARM_HOME` (default `./.shardfarm/client`): the
 * index of files put from here (with their owner keys: only this machine can delete them) and the
 * journals of unfinished uploads. Files are replaced atomically (temp + rename).
 */
export function clientHome (): string {
  return resolve(process.env.SHARDFARM_HOME ?? join('.shardfarm', 'client'))
}

export interface IndexEntry {
  name: string
  size: number
  link: string
  manifestId: string
  ownerSeed: string
  policy: string
  createdAt: number
}

let tmpSeq = 0
async function writeAtomic (path: string, text: string): Promise<void> {
  // A temp name per write, not per process: two saves in flight must not rename each other's file.
  const tmp = `${path}.${process.pid}.${tmpSeq++}.tmp`
  await writeFile(tmp, text, { mode: 0o600, flush: true })
  await rename(tmp, path)
}

export class LocalIndex {
  readonly path: string
  constructor (home = clientHome()) { this.path = join(home, 'index.json') }

  async list (): Promise<IndexEntry[]> {
    try {
      return JSON.parse(await readFile(this.path, 'utf8')) as IndexEntry[]
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
      throw err
    }
  }

  async add (e: IndexEntry): Promise<void> {
    const all = (await this.list()).filter(x => x.manifestId !== e.manifestId)
    all.push(e)
    await mkdir(join(this.path, '..'), { recursive: true })
    await writeAtomic(this.path, JSON.stringify(all, null, 2))
  }

  async remove (manifestId: string): Promise<void> {
    const all = await this.list()
    await writeAtomic(this.path, JSON.stringify(all.filter(x => x.manifestId !== manifestId), null, 2))
  }

  async find (manifestId: string): Promise<IndexEntry | undefined> {
    return (await this.list()).find(x => x.manifestId === manifestId)
  }
}

/** The journal of one source file, named by a hash of its identity. */
export class FileJournal implements UploadJournal {
  readonly path: string
  /** Saves run one after another: the upload saves after every segment from several workers, and a later state must never be overwritten by an earlier one. */
  #writes: Promise<void> = Promise.resolve()
  constructor (sourceKey: string, home = clientHome()) {
    this.path = join(home, 'journals', `${createHash('sha256').update(sourceKey).digest('hex').slice(0, 32)}.json`)
  }

  async load (): Promise<JournalState | undefined> {
    try {
      return JSON.parse(await readFile(this.path, 'utf8')) as JournalState
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw err
    }
  }

  async save (state: JournalState): Promise<void> {
    const text = JSON.stringify(state)
    const write = this.#writes.then(async () => {
      await mkdir(join(this.path, '..'), { recursive: true })
      await writeAtomic(this.path, text)
    })
    this.#writes = write.catch(() => {})
    await write
  }

  async clear (): Promise<void> {
    await this.#writes
    await rm(this.path, { force: true })
  }
}

/** A file as a `ByteSource`, plus the identity used to key its journal (path, size, mtime). */
export async function fileSource (path: string): Promise<{ source: ByteSource, sourceKey: string, close: () => Promise<void> }> {
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
  return { source, sourceKey: `${resolve(path)}:${st.size}:${st.mtimeMs}`, close: async () => { await fh.close() } }
}
