import { deleteDB, openDB } from 'idb'
import { describe, expect, it } from 'vitest'
import { KvJobStore } from '../../client/job-store.ts'
import { normalizePolicy } from '../../core/policy.ts'
import { IdbKeyValueStore } from '../../stores/kv/idb.ts'
import { takeLegacyOutbox } from './legacy-outbox.ts'

const databases = async (): Promise<string[]> => (await indexedDB.databases()).map(d => d.name!)

// In Chromium: the earlier version's outbox database, as it wrote it, taken over by a job store.
describe('the outbox of an earlier version', () => {
  it('becomes outbox jobs with the same keys, segments and fragments, and the old database goes', async () => {
    const old = await openDB('shardfarm-outbox', 1, { upgrade (db) { db.createObjectStore('jobs', { keyPath: 'id' }); db.createObjectStore('fragments') } })
    const segments = [0, 1].map(s => ({ ciphertextLength: 40, shardLength: 10, fragments: Array.from({ length: 6 }, (_, i) => `${s}${i}`.padEnd(64, 'a')), digest: 'd'.repeat(64) }))
    const job = {
      id: '0123456789abcdef', name: 'queued.bin', mime: 'text/plain', size: 24, policy: normalizePolicy('live'), fileIdHex: '11'.repeat(16),
      keyB64: 'K'.repeat(44), ownerSeedB64: 'S'.repeat(44), shardSize: 4096, createdAt: 1_700_000_000_000, status: 'queued',
      segments, holders: { 0: [['p0'], ['p1'], ['p2'], ['p3'], ['p4'], ['p5']] }, lastError: { name: 'OfflineError', message: 'offline' }
    }
    await old.put('jobs', job)
    for (const s of [0, 1]) for (let i = 0; i < 6; i++) await old.put('fragments', Uint8Array.of(s, i, 7), [job.id, s, i])
    old.close()

    const name = `outbox-test-${crypto.randomUUID()}`
    const jobs = new KvJobStore(await IdbKeyValueStore.open(name))
    await takeLegacyOutbox(jobs)
    expect(await jobs.getJob(job.id)).toMatchObject({ state: 'queued', keeps: true, name: 'queued.bin', keyB64: job.keyB64, ownerSeedB64: job.ownerSeedB64, fileIdHex: job.fileIdHex, lastError: { name: 'OfflineError' } })
    const moved = await jobs.segments(job.id)
    expect(moved[0]).toEqual({ ...segments[0], holders: job.holders[0] })
    expect(moved[1]).toEqual(segments[1]) // not sent yet: no holders
    expect([...(await jobs.getFragment(job.id, 1, 5))!]).toEqual([1, 5, 7])
    await expect.poll(databases).not.toContain('shardfarm-outbox')
    await takeLegacyOutbox(jobs) // nothing left to take: nothing changes
    expect((await jobs.listJobs()).map(j => j.id)).toEqual([job.id])
    await deleteDB(name)
  })
})
