import { createHash } from 'node:crypto'
import { appendFile, mkdir, open, readFile, rename, rm, writeFile } from 'node:fs/promises'
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
  /** Where repairs put copies (see `RepairResult.placed`), so that `rm` reaches them. */
  copies?: Array<{ id: string, peer: string }>
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

type JournalHeader = Omit<JournalState, 'done'>
type DoneSegment = JournalState['done'][number]

/**
 * The journal of one source file, named by a hash of its identity. It is append-only JSON lines:
 * the upload's header (key, policy, …) first, written atomically and flushed, then one line per
 * stored segment, appended. Rewriting the whole state after every segment, as it first did, cost
 * O(segments²) bytes (a 4 GiB put rewrote up to 370 KB, 410 times) and an fsync per segment, which
 * on a shared disk is a journal commit every farmer waits behind.
 *
 * Appended lines are not flushed: a killed process loses none of them (they are in the page cache),
 * and a machine crash that loses the last few only means those segments are prepared and checked
 * again on resume (`has` skips what already landed). A torn last line is ignored.
 */
export class FileJournal implements UploadJournal {
  readonly path: string
  /** Saves run one after another: the upload saves after every segment from several workers, and a later state must never be overwritten by an earlier one. */
  #writes: Promise<void> = Promise.resolve()
  /**
   * The header on disk (as JSON), and the entry last written for each segment after it (a segment
   * stored again, after its holders lost fragments, gets a new line; the last line wins on load).
   */
  #header: string | undefined
  readonly #written = new Map<string, DoneSegment>()
  /** Set by `clear` until the next `load`: the upload it described is over. */
  #cleared = false

  constructor (sourceKey: string, home = clientHome()) {
    this.path = join(home, 'journals', `${createHash('sha256').update(sourceKey).digest('hex').slice(0, 32)}.json`)
  }

  async load (): Promise<JournalState | undefined> {
    this.#cleared = false
    let text: string
    try {
      text = await readFile(this.path, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw err
    }
    const lines = text.split('\n')
    let first: JournalState
    try {
      first = JSON.parse(lines[0]!) as JournalState
    } catch {
      return undefined // unreadable: the upload starts over, as if there were none
    }
    // A journal of an earlier version is one JSON object with `done` inside.
    const { done = {}, ...header } = first
    for (const line of lines.slice(1, -1)) { // the part after the last newline is torn (or empty)
      try {
        const { s, ...seg } = JSON.parse(line) as DoneSegment & { s: number }
        done[s] = seg
      } catch {
        break // a torn line can only be the last one written
      }
    }
    this.#header = JSON.stringify(header)
    this.#written.clear()
    for (const [s, seg] of Object.entries(done)) this.#written.set(s, seg)
    return { ...header, done }
  }

  async save (state: JournalState): Promise<void> {
    if (this.#cleared) return
    const { done, ...header } = state
    const head = JSON.stringify(header satisfies JournalHeader)
    const fresh = head !== this.#header
    if (fresh) {
      this.#header = head
      this.#written.clear()
    }
    const lines: string[] = []
    for (const [s, seg] of Object.entries(done)) {
      if (this.#written.get(s) === seg) continue
      this.#written.set(s, seg)
      lines.push(JSON.stringify({ s: Number(s), ...seg }))
    }
    const text = lines.map(l => l + '\n').join('')
    const write = this.#writes.then(async () => {
      if (fresh) {
        await mkdir(join(this.path, '..'), { recursive: true })
        await writeAtomic(this.path, head + '\n' + text)
      } else if (text.length > 0) {
        await appendFile(this.path, text, { mode: 0o600 })
      }
    })
    this.#writes = write.catch(() => {
      this.#header = undefined // what is on disk is unknown now: the next save rewrites it all
    })
    await write
  }

  async clear (): Promise<void> {
    this.#cleared = true // a save still on its way from another worker must not bring it back
    await this.#writes
    this.#header = undefined
    this.#written.clear()
    await rm(this.path, { force: true })
  }
}

/**
 * A file as a `ByteSource`, plus the identity used to key its journal: path, size, mtime and ctime.
 * The ctime changes with any write, even one that puts the old mtime back (`cp -p`, `touch -r`),
 * so a changed file never resumes an upload sealed under the same key and nonces.
 */
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
  return { source, sourceKey: `${resolve(path)}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`, close: async () => { await fh.close() } }
}
