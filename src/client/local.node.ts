import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { clientHome } from './session.node.ts'

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
