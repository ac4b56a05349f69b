import { openDB, type IDBPDatabase } from 'idb'

/** A file this browser put on the grid. The owner seed (delete right) never leaves this browser. */
export interface MyFile {
  manifestId: string
  name: string
  size: number
  link: string
  policy: string
  ownerSeed: string
  createdAt: number
}

/** The list of files uploaded from this browser, kept in IndexedDB. */
export class Files {
  items = $state<MyFile[]>([])
  #db: Promise<IDBPDatabase> | undefined

  #open (): Promise<IDBPDatabase> {
    this.#db ??= openDB('shardfarm-files', 1, { upgrade (db) { db.createObjectStore('files', { keyPath: 'manifestId' }) } })
    return this.#db
  }

  async load (): Promise<void> {
    const all = await (await this.#open()).getAll('files') as MyFile[]
    this.items = all.sort((a, b) => b.createdAt - a.createdAt)
  }

  async add (f: MyFile): Promise<void> {
    await (await this.#open()).put('files', f)
    await this.load()
  }

  async remove (manifestId: string): Promise<void> {
    await (await this.#open()).delete('files', manifestId)
    await this.load()
  }
}

export const files = new Files()
