/**
 * The outbox of versions before the upload job: the IndexedDB database `shardfarm-outbox`, one
 * record per queued upload in `jobs` and its fragments in `fragments` under [job, segment, index].
 * A person who queued files offline with such a version still has them sent: the first time the
 * page opens its job store, each such upload becomes an outbox job (same keys, same fragments),
 * one fragment at a time, and only then is the old database deleted.
 */
import type { IDBPDatabase } from 'idb'
import type { JobState, JobStore, UploadJobRecord } from '../../client/job-store.ts'
import type { StoragePolicy } from '../../core/policy.ts'
import { takeLegacyDatabase } from './app-store.ts'

const LEGACY_DATABASE = 'shardfarm-outbox'

/** A job as the earlier outbox kept it. */
interface LegacyJob {
  id: string
  name: string
  mime: string
  size: number
  policy: Required<StoragePolicy>
  fileIdHex: string
  keyB64: string
  ownerSeedB64: string
  shardSize: number
  createdAt: number
  status: 'sealing' | 'queued' | 'sending' | 'done'
  segments: Array<{ ciphertextLength: number, shardLength: number, fragments: string[], digest: string }>
  holders: Record<number, string[][]>
  link?: string
  lastError?: { name: string, code?: string, message: string }
}

const STATES: Record<LegacyJob['status'], JobState> = { sealing: 'sealing', queued: 'queued', sending: 'sending', done: 'published' }

/** Moves every upload of an earlier version's outbox into `jobs`, then deletes that outbox. */
export async function takeLegacyOutbox (jobs: JobStore): Promise<void> {
  await takeLegacyDatabase(LEGACY_DATABASE, async db => {
    if (!db.objectStoreNames.contains('jobs')) return
    for (const old of await db.getAll('jobs') as LegacyJob[]) await moveJob(db, old, jobs)
  }, async () => {})
}

/** Writes `old`'s record, segments and fragments into `jobs` (again, if a move was cut short before). */
async function moveJob (db: IDBPDatabase, old: LegacyJob, jobs: JobStore): Promise<void> {
  if (typeof old?.id !== 'string' || !/^[0-9a-f]{1,64}$/.test(old.id)) return // not one this app wrote
  // Fragments and segments before the job itself: a job in the store is one that can be sent.
  for (const [s, seg] of old.segments.entries()) {
    for (let i = 0; i < seg.fragments.length; i++) {
      const bytes = await db.get('fragments', [old.id, s, i]) as Uint8Array | undefined
      if (bytes !== undefined) await jobs.putFragment(old.id, s, i, bytes)
    }
    const holders = old.holders[s]
    await jobs.putSegment(old.id, s, { ...seg, ...(holders !== undefined ? { holders } : {}) })
  }
  const record: UploadJobRecord = {
    version: 2, id: old.id, sourceKey: '', name: old.name, mime: old.mime, size: old.size, policy: old.policy, shardSize: old.shardSize,
    createdAt: old.createdAt, fileIdHex: old.fileIdHex, keyB64: old.keyB64, ownerSeedB64: old.ownerSeedB64, state: STATES[old.status] ?? 'failed',
    keeps: true, ...(old.link !== undefined ? { link: old.link } : {}), ...(old.lastError !== undefined ? { lastError: old.lastError } : {})
  }
  await jobs.putJob(record)
}
