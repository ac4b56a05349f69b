/**
 * The `JobStore` port: where upload jobs are kept between runs, so that an interrupted upload goes
 * on where it stopped and an offline one waits with its fragments until the grid is back. One
 * implementation over the `KeyValueStore` port serves every platform: on disk for the CLI, in
 * IndexedDB for the app, in memory for uploads nobody resumes. `runJobStoreTests`
 * (`job-store.conformance.ts`) holds each of them to the same contract.
 */
import { loadJson, saveJson, type KeyValueStore } from '../core/key-value-store.ts'
import type { SegmentEntry } from '../core/manifest.ts'
import type { StoragePolicy } from '../core/policy.ts'

/**
 * sealing → queued → sending → published, or failed / cancelled. A streaming upload goes from
 * sealing straight to sending (it sends each segment as it seals it); an offline one waits in
 * queued with its fragments kept.
 */
export type JobState = 'sealing' | 'queued' | 'sending' | 'published' | 'failed' | 'cancelled'

/** What a job is: the file, its keys and policy, and where it stands. */
export interface UploadJobRecord {
  version: 2
  /** Key-safe id (letters, digits, `-`, `_`). */
  id: string
  /** Identifies the source (path + size + mtime + ctime, or a File's name + size + lastModified). */
  sourceKey: string
  name: string
  mime: string
  size: number
  policy: Required<StoragePolicy>
  shardSize: number
  createdAt: number
  fileIdHex: string
  /** Base64 raw file key. Jobs live on the uploader's machine only, like the owner key. */
  keyB64: string
  ownerSeedB64: string
  state: JobState
  /** The fragments are kept in the store until sent (the outbox), instead of sent as sealed. */
  keeps: boolean
  /** The read link, once published. */
  link?: string
  /**
   * Ids of manifests this job began to store and did not publish (an interrupted publish). Once
   * another is published, their copies are removed with the owner's key.
   */
  unpublished?: string[]
  /** The last failure, for display (a queued job that failed to send stays queued). */
  lastError?: { name: string, code?: string, message: string }
}

/**
 * One sealed segment: what the manifest needs of it and its plaintext digest; `holders` once its
 * fragments are on farmers. A segment sent again (its holders lost fragments) gets a new record.
 */
export interface SegmentRecord extends Omit<SegmentEntry, 'holders'> {
  /** SHA-256 (hex) of the segment's plaintext. */
  digest: string
  holders?: string[][]
}

/** Persistence of upload jobs, their segment records and their kept fragments. */
export interface JobStore {
  putJob: (job: UploadJobRecord) => Promise<void>
  getJob: (id: string) => Promise<UploadJobRecord | undefined>
  listJobs: () => Promise<UploadJobRecord[]>
  /** Removes the job with its segment records and fragments. */
  deleteJob: (id: string) => Promise<void>
  putSegment: (id: string, segment: number, record: SegmentRecord) => Promise<void>
  /** The job's segment records by index (a sparse array: segments not sealed yet are holes). */
  segments: (id: string) => Promise<Array<SegmentRecord | undefined>>
  putFragment: (id: string, segment: number, index: number, bytes: Uint8Array) => Promise<void>
  getFragment: (id: string, segment: number, index: number) => Promise<Uint8Array | undefined>
  /** Removes the job's kept fragments (its records stay). */
  deleteFragments: (id: string) => Promise<void>
}

/**
 * `JobStore` over a `KeyValueStore`: `['jobs', id]` holds the job, `['jobs', id, 'seg', s]` each
 * segment record, `['jobs', id, 'frag', s, i]` each kept fragment. One key per segment, so saving a
 * segment costs the same at the 400th as at the first (rewriting a whole journal costs O(n²)).
 */
export class KvJobStore implements JobStore {
  readonly #kv: KeyValueStore

  constructor (kv: KeyValueStore) {
    this.#kv = kv
  }

  async putJob (job: UploadJobRecord): Promise<void> { await saveJson(this.#kv, ['jobs', job.id], job) }

  async getJob (id: string): Promise<UploadJobRecord | undefined> {
    const job = await loadJson<UploadJobRecord>(this.#kv, ['jobs', id])
    return job?.version === 2 ? job : undefined
  }

  async listJobs (): Promise<UploadJobRecord[]> {
    const ids = (await this.#kv.keys(['jobs'])).filter(k => k.length === 2).map(k => k[1]!)
    const jobs = await Promise.all(ids.map(async id => await this.getJob(id)))
    return jobs.filter((j): j is UploadJobRecord => j !== undefined)
  }

  async deleteJob (id: string): Promise<void> { await this.#kv.removeRange(['jobs', id]) }

  async putSegment (id: string, segment: number, record: SegmentRecord): Promise<void> {
    await saveJson(this.#kv, ['jobs', id, 'seg', String(segment)], record)
  }

  async segments (id: string): Promise<Array<SegmentRecord | undefined>> {
    const out: Array<SegmentRecord | undefined> = []
    for (const key of await this.#kv.keys(['jobs', id, 'seg'])) {
      const s = Number(key[3])
      const record = key.length === 4 && Number.isSafeInteger(s) ? await loadJson<SegmentRecord>(this.#kv, key) : undefined
      // An unreadable record (a write torn by a crash) is a segment to seal again.
      if (record !== undefined && Array.isArray(record.fragments)) out[s] = record
    }
    return out
  }

  async putFragment (id: string, segment: number, index: number, bytes: Uint8Array): Promise<void> {
    await this.#kv.save(['jobs', id, 'frag', String(segment), String(index)], bytes)
  }

  async getFragment (id: string, segment: number, index: number): Promise<Uint8Array | undefined> {
    return await this.#kv.load(['jobs', id, 'frag', String(segment), String(index)])
  }

  async deleteFragments (id: string): Promise<void> { await this.#kv.removeRange(['jobs', id, 'frag']) }
}
