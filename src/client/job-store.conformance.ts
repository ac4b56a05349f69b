/**
 * The `JobStore` contract, run over every `KeyValueStore` adapter in its real environment: memory
 * and files on disk in Node (`job-store.test.ts`), IndexedDB in Chromium
 * (`job-store.browser.test.ts`). `open` gives a fresh, empty store; `reopen`, when the adapter
 * persists, a second handle on the same data (what a restarted process or a reloaded page sees).
 */
import { describe, it, expect } from 'vitest'
import { encodeJson, type KeyValueStore } from '../core/key-value-store.ts'
import { normalizePolicy } from '../core/policy.ts'
import { KvJobStore, type SegmentRecord, type UploadJobRecord } from './job-store.ts'

export interface JobStoreFixture {
  open: () => Promise<KeyValueStore>
  /** Another handle on the store `open` last gave. */
  reopen?: () => Promise<KeyValueStore>
}

const job = (id: string, patch: Partial<UploadJobRecord> = {}): UploadJobRecord => ({
  version: 2, id, sourceKey: `/tmp/${id}:10:1:1`, name: `${id}.bin`, mime: 'application/octet-stream', size: 10,
  policy: normalizePolicy('live'), shardSize: 4096, createdAt: 1_700_000_000_000, fileIdHex: '00'.repeat(16),
  keyB64: 'A'.repeat(44), ownerSeedB64: 'B'.repeat(44), state: 'sealing', keeps: false, ...patch
})

const segment = (s: number, holders?: string[][]): SegmentRecord => ({
  digest: String(s).repeat(64).slice(0, 64), ciphertextLength: 100 + s, shardLength: 25 + s,
  fragments: Array.from({ length: 6 }, (_, i) => `${s}${i}`.padEnd(64, 'f')), ...(holders !== undefined ? { holders } : {})
})

const bytes = (n: number, seed: number): Uint8Array => {
  const b = new Uint8Array(n)
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff
  return b
}

/** Byte equality without a deep-equal over a million elements (slow in the test runner). */
const same = (a: Uint8Array | undefined, b: Uint8Array): boolean => a !== undefined && a.length === b.length && a.every((x, i) => x === b[i])

export function runJobStoreTests (name: string, fixture: JobStoreFixture): void {
  describe(`JobStore over ${name}`, () => {
    it('keeps jobs by id: unknown ids are undefined, a put replaces, and the list holds each job once', async () => {
      const store = new KvJobStore(await fixture.open())
      expect(await store.getJob('nope')).toBeUndefined()
      expect(await store.listJobs()).toEqual([])
      await store.putJob(job('a'))
      await store.putJob(job('b', { keeps: true }))
      await store.putJob(job('a', { state: 'sending' }))
      expect(await store.getJob('a')).toEqual(job('a', { state: 'sending' }))
      expect((await store.listJobs()).map(j => j.id).sort()).toEqual(['a', 'b'])
    })

    it('records one segment at a time, the last record of a segment wins, and holes stay holes', async () => {
      const store = new KvJobStore(await fixture.open())
      await store.putJob(job('s'))
      // Saved from several workers at once, out of order, as an upload does.
      await Promise.all([5, 0, 2, 11].map(async s => { await store.putSegment('s', s, segment(s)) }))
      await store.putSegment('s', 2, segment(2, [['p1'], ['p2'], ['p3'], ['p4'], ['p5'], ['p6']]))
      const got = await store.segments('s')
      expect(got.length).toBe(12)
      expect(Object.keys(got).map(Number)).toEqual([0, 2, 5, 11])
      expect(got[2]).toEqual(segment(2, [['p1'], ['p2'], ['p3'], ['p4'], ['p5'], ['p6']]))
      expect(got[11]).toEqual(segment(11))
      expect(await store.segments('other')).toEqual([])
    })

    it('keeps fragments byte for byte (1 MiB too) until they are deleted, leaving the records', async () => {
      const store = new KvJobStore(await fixture.open())
      await store.putJob(job('f', { keeps: true }))
      await store.putSegment('f', 0, segment(0))
      const big = bytes(1 << 20, 7)
      await store.putFragment('f', 0, 0, big)
      await store.putFragment('f', 0, 1, bytes(3, 1))
      expect(same(await store.getFragment('f', 0, 0), big)).toBe(true)
      expect(await store.getFragment('f', 0, 1)).toEqual(bytes(3, 1))
      expect(await store.getFragment('f', 0, 2)).toBeUndefined()
      await store.deleteFragments('f')
      expect(await store.getFragment('f', 0, 0)).toBeUndefined()
      expect((await store.segments('f'))[0]).toEqual(segment(0))
      expect(await store.getJob('f')).toEqual(job('f', { keeps: true }))
    })

    it('a deleted job takes its records and fragments with it, and no other job’s', async () => {
      const store = new KvJobStore(await fixture.open())
      for (const id of ['x', 'x1']) {
        await store.putJob(job(id))
        await store.putSegment(id, 0, segment(0))
        await store.putFragment(id, 0, 0, bytes(10, 2))
      }
      await store.deleteJob('x')
      expect(await store.getJob('x')).toBeUndefined()
      expect(await store.segments('x')).toEqual([])
      expect(await store.getFragment('x', 0, 0)).toBeUndefined()
      expect(await store.getJob('x1')).toEqual(job('x1'))
      expect((await store.segments('x1'))[0]).toEqual(segment(0))
      expect(await store.getFragment('x1', 0, 0)).toEqual(bytes(10, 2))
      expect((await store.listJobs()).map(j => j.id)).toEqual(['x1'])
    })

    it('ignores what it cannot read: a torn segment record is a segment to seal again, a foreign job is no job', async () => {
      const kv = await fixture.open()
      const store = new KvJobStore(kv)
      await store.putJob(job('t'))
      await store.putSegment('t', 0, segment(0))
      await kv.save(['jobs', 't', 'seg', '1'], new TextEncoder().encode('{"digest":"ab'))
      await kv.save(['jobs', 't', 'seg', '2'], encodeJson({ nothing: 'useful' }))
      await kv.save(['jobs', 'old'], encodeJson({ version: 1, sourceKey: 'x', done: {} }))
      const got = await store.segments('t')
      expect(Object.keys(got)).toEqual(['0'])
      expect(await store.getJob('old')).toBeUndefined()
      expect((await store.listJobs()).map(j => j.id)).toEqual(['t'])
    })

    it('what a job recorded is there for the next process or page to resume', async () => {
      if (fixture.reopen === undefined) return
      const first = new KvJobStore(await fixture.open())
      await first.putJob(job('r', { state: 'queued', keeps: true }))
      await first.putSegment('r', 0, segment(0, [['a'], ['b'], ['c'], ['d'], ['e'], ['f']]))
      await first.putFragment('r', 1, 3, bytes(4096, 9))
      const second = new KvJobStore(await fixture.reopen())
      expect(await second.getJob('r')).toEqual(job('r', { state: 'queued', keeps: true }))
      expect((await second.segments('r'))[0]).toEqual(segment(0, [['a'], ['b'], ['c'], ['d'], ['e'], ['f']]))
      expect(same(await second.getFragment('r', 1, 3), bytes(4096, 9))).toBe(true)
    })
  })
}
