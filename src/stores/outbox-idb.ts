import { openDB, type IDBPDatabase } from 'idb'
import type { OutboxJob, OutboxStore } from '../client/outbox.ts'

/**
 * The outbox in IndexedDB: `jobs` (one record per queued upload) and `fragments` keyed
 * [jobId, segment, index]. Each write is its own transaction, so a closed tab loses at most the
 * fragment being written, and the job record says which segments are complete.
 */
export class IdbOutboxStore implements OutboxStore {
  readonly #db: IDBPDatabase

  private constructor (db: IDBPDatabase) {
    this.#db = db
  }

  /** Opens (creating if needed) the outbox database. @default name 'shardfarm-outbox' */
  static async open (name = 'shardfarm-outbox'): Promise<IdbOutboxStore> {
    const db = await openDB(name, 1, {
      upgrade (db) {
        db.createObjectStore('jobs', { keyPath: 'id' })
        db.createObjectStore('fragments')
      }
    })
    return new IdbOutboxStore(db)
  }

  async putJob (job: OutboxJob): Promise<void> { await this.#db.put('jobs', job) }
  async getJob (id: string): Promise<OutboxJob | undefined> { return await this.#db.get('jobs', id) as OutboxJob | undefined }
  async listJobs (): Promise<OutboxJob[]> { return await this.#db.getAll('jobs') as OutboxJob[] }
  async deleteJob (id: string): Promise<void> {
    await this.deleteFragments(id)
    await this.#db.delete('jobs', id)
  }

  async putFragment (jobId: string, segment: number, index: number, bytes: Uint8Array): Promise<void> {
    await this.#db.put('fragments', bytes, [jobId, segment, index])
  }

  async getFragment (jobId: string, segment: number, index: number): Promise<Uint8Array | undefined> {
    return await this.#db.get('fragments', [jobId, segment, index]) as Uint8Array | undefined
  }

  async deleteFragments (jobId: string): Promise<void> {
    // Array keys sort element-wise, so [jobId] … [jobId, []] spans every key that starts with jobId.
    await this.#db.delete('fragments', IDBKeyRange.bound([jobId], [jobId, []]))
  }

  close (): void { this.#db.close() }
}
