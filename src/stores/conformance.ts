/**
 * The shared test suite every `FragmentStore` adapter must pass, in its real environment (Node for
 * the disk store, a real browser for IndexedDB). It imports nothing from Node: everything
 * environment-specific arrives through the factory.
 */
import { describe, expect, it } from 'vitest'
import { MAX_CLAIMS_PER_FRAGMENT } from '../core/fragment-store.ts'
import type { FragmentClaim, FragmentId, FragmentStore } from '../core/fragment-store.ts'
import { sha256Hex } from '../core/hash.ts'

/** A fresh, empty store for one test, and how to dispose of it. */
export interface StoreUnderTest {
  store: FragmentStore
  /** Closes the store (it may already be closed) and removes whatever it left behind. */
  cleanup: () => Promise<void>
  /**
   * Optional: damages the stored bytes of `id` the way bit rot would, below the store's API.
   * When absent, the corruption case is skipped for this adapter.
   */
  corrupt?: (id: FragmentId) => Promise<void>
}

/** Builds a fresh store with the given quota (bytes). */
export type StoreFactory = (opts: { quota: number }) => Promise<StoreUnderTest>

const KiB = 1024
const MiB = 1024 * KiB
const QUOTA = 4 * MiB
const OWNER = btoaBytes(new Uint8Array(32).map((_, i) => i + 1))
const OTHER = btoaBytes(new Uint8Array(32).fill(9))

/** A claim of `owner` (by default `OWNER`) ending at `expiresAt`. */
function claim (owner = OWNER, expiresAt = 2_000_000_000_000, peer = '12D3KooWuploader'): FragmentClaim {
  return { owner, peer, expiresAt }
}

/** A distinct canonical owner key for each `i` < 65536. */
function ownerNo (i: number): string {
  const raw = new Uint8Array(32)
  raw[0] = i & 0xff
  raw[1] = i >> 8
  return btoaBytes(raw)
}

/** Random bytes of any length (getRandomValues fills at most 64 KiB per call). */
export function randomBytes (n: number): Uint8Array {
  const out = new Uint8Array(n)
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(out.subarray(i, Math.min(n, i + 65536)))
  return out
}

/** A random fragment and its id. */
export async function fragment (n: number): Promise<{ id: FragmentId, bytes: Uint8Array }> {
  const bytes = randomBytes(n)
  return { id: await sha256Hex(bytes), bytes }
}

/**
 * Byte equality. vitest's `toEqual` walks a typed array element by element through its generic
 * matcher, which takes seconds on 1 MiB; this takes microseconds.
 */
function sameBytes (a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false
  return true
}

function btoaBytes (bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes))
}

/** Resolves to the rejection of `p` (failing when it fulfils), so tests can assert on name and code. */
async function rejection (p: Promise<unknown>): Promise<{ name: string, code?: string, details?: Record<string, unknown> }> {
  try {
    await p
  } catch (err) {
    return err as { name: string, code?: string }
  }
  throw new Error('expected a rejection')
}

/** Registers the conformance suite for one adapter under `describe(name)`. */
export function runFragmentStoreTests (name: string, factory: StoreFactory): void {
  describe(`FragmentStore conformance: ${name}`, () => {
    /** Runs `body` against a fresh store and always cleans up, pass or fail. */
    async function withStore (quota: number, body: (t: StoreUnderTest) => Promise<void>): Promise<void> {
      const t = await factory({ quota })
      try {
        await body(t)
      } finally {
        await t.cleanup()
      }
    }

    it('round-trips 1 byte, 1 KiB and 1 MiB exactly, isolated from caller buffers', () => withStore(QUOTA, async ({ store }) => {
      for (const size of [1, KiB, MiB]) {
        const { id, bytes } = await fragment(size)
        await store.put(id, bytes)
        const original = bytes.slice()
        bytes.fill(0) // the store must have copied, not kept the caller's buffer
        const got = await store.get(id)
        expect(got).toBeInstanceOf(Uint8Array)
        expect(sameBytes(got, original)).toBe(true)
        got.fill(0) // nor handed out its own
        expect(sameBytes(await store.get(id), original)).toBe(true)
      }
      expect(await store.stat()).toMatchObject({ used: 1 + KiB + MiB, count: 3 })
    }))

    it('refuses an empty fragment with BAD_REQUEST and stores nothing', () => withStore(QUOTA, async ({ store }) => {
      const empty = new Uint8Array(0)
      const err = await rejection(store.put(await sha256Hex(empty), empty))
      expect(err).toMatchObject({ name: 'EmptyFragmentError', code: 'BAD_REQUEST' })
      expect(await store.stat()).toMatchObject({ used: 0, count: 0 })
    }))

    it('refuses bytes that do not hash to the id, and stores nothing', () => withStore(QUOTA, async ({ store }) => {
      const a = await fragment(KiB)
      const b = await fragment(KiB)
      const err = await rejection(store.put(a.id, b.bytes))
      expect(err).toMatchObject({ name: 'HashMismatchError', code: 'HASH_MISMATCH', details: { id: a.id, actual: b.id } })
      expect(await store.has([a.id, b.id])).toEqual([false, false])
      expect(await store.stat()).toMatchObject({ used: 0, count: 0 })
    }))

    it('reports a missing fragment as NOT_FOUND and its meta as undefined', () => withStore(QUOTA, async ({ store }) => {
      const { id } = await fragment(10)
      expect(await rejection(store.get(id))).toMatchObject({ name: 'FragmentNotFoundError', code: 'NOT_FOUND' })
      expect(await store.meta(id)).toBeUndefined()
    }))

    it('answers has() for a batch mixing held and missing ids, in order', () => withStore(QUOTA, async ({ store }) => {
      const held = [await fragment(100), await fragment(200)]
      const missing = await fragment(300)
      for (const f of held) await store.put(f.id, f.bytes)
      expect(await store.has([held[0]!.id, missing.id, held[1]!.id, held[0]!.id])).toEqual([true, false, true, true])
      expect(await store.has([])).toEqual([])
    }))

    it('refuses malformed ids with BAD_REQUEST on every method', () => withStore(QUOTA, async ({ store }) => {
      const { id, bytes } = await fragment(64)
      const bad = [id.toUpperCase(), id.slice(0, 63), `${id}0`, '../etc/passwd', `../${id.slice(3)}`,
        'g'.repeat(64), '', `${id.slice(0, 2)}/${id.slice(3)}`, 42 as unknown as string]
      for (const b of bad) {
        const calls = [store.put(b, bytes), store.get(b), store.has([id, b]), store.meta(b), store.delete(b)]
        for (const call of calls) {
          expect(await rejection(call)).toMatchObject({ name: 'InvalidFragmentIdError', code: 'BAD_REQUEST' })
        }
      }
      expect(await store.stat()).toMatchObject({ used: 0, count: 0 })
    }))

    it('refuses a malformed owner key with BAD_REQUEST', () => withStore(QUOTA, async ({ store }) => {
      const { id, bytes } = await fragment(64)
      for (const owner of ['not base64!', OWNER.slice(4), btoaBytes(new Uint8Array(33))]) {
        expect(await rejection(store.put(id, bytes, { claims: [claim(owner)] }))).toMatchObject({ code: 'BAD_REQUEST' })
      }
      for (const bad of [{ ...claim(), expiresAt: -1 }, { ...claim(), peer: 'p'.repeat(129) }]) {
        expect(await rejection(store.put(id, bytes, { claims: [bad] }))).toMatchObject({ name: 'InvalidFragmentMetaError' })
      }
      expect(await rejection(store.put(id, bytes, { claims: [claim(), claim()] }))).toMatchObject({ code: 'BAD_REQUEST' })
      expect(await store.has([id])).toEqual([false])
    }))

    it('enforces the quota exactly under 20 concurrent puts', () => withStore(10 * KiB, async ({ store }) => {
      const frags = await Promise.all(Array.from({ length: 20 }, () => fragment(KiB)))
      const results = await Promise.allSettled(frags.map(f => store.put(f.id, f.bytes)))
      const ok = frags.filter((_, i) => results[i]!.status === 'fulfilled')
      const refused = results.flatMap(r => r.status === 'rejected' ? [r.reason as { name: string, code: string, details: unknown }] : [])
      expect(ok).toHaveLength(10)
      expect(refused).toHaveLength(10)
      for (const err of refused) {
        expect(err).toMatchObject({ name: 'QuotaExceededError', code: 'QUOTA_EXCEEDED', details: { quota: 10 * KiB, needed: KiB } })
      }
      expect(await store.stat()).toEqual({ capacity: 10 * KiB, used: 10 * KiB, free: 0, count: 10 })
      for (const f of ok) expect(sameBytes(await store.get(f.id), f.bytes)).toBe(true)
    }))

    it('refuses a fragment larger than the whole quota', () => withStore(KiB, async ({ store }) => {
      const { id, bytes } = await fragment(KiB + 1)
      expect(await rejection(store.put(id, bytes))).toMatchObject({ code: 'QUOTA_EXCEEDED', details: { quota: KiB, used: 0, needed: KiB + 1 } })
    }))

    it('counts a re-put once, even concurrent and even when the quota is full', () => withStore(2 * KiB, async ({ store }) => {
      const a = await fragment(KiB)
      const b = await fragment(KiB)
      await Promise.all([1, 2, 3, 4, 5].map(() => store.put(a.id, a.bytes)))
      await store.put(b.id, b.bytes)
      await store.put(a.id, a.bytes) // full quota, but already held: not a new byte
      expect(await store.stat()).toEqual({ capacity: 2 * KiB, used: 2 * KiB, free: 0, count: 2 })
    }))

    it('frees space on delete, and reports unknown ids as not deleted', () => withStore(2 * KiB, async ({ store }) => {
      const [a, b, c] = [await fragment(KiB), await fragment(KiB), await fragment(KiB)]
      await store.put(a.id, a.bytes)
      await store.put(b.id, b.bytes)
      expect(await rejection(store.put(c.id, c.bytes))).toMatchObject({ code: 'QUOTA_EXCEEDED' })
      expect(await store.delete(a.id)).toBe(true)
      expect(await store.delete(a.id)).toBe(false)
      expect(await store.delete(c.id)).toBe(false)
      expect(await rejection(store.get(a.id))).toMatchObject({ code: 'NOT_FOUND' })
      await store.put(c.id, c.bytes)
      expect(await store.has([a.id, b.id, c.id])).toEqual([false, true, true])
      expect(await store.stat()).toMatchObject({ used: 2 * KiB, count: 2 })
    }))

    it('keeps claims and storedAt; a re-put adds its claim or replaces that owner\'s, never counting bytes twice', () => withStore(QUOTA, async ({ store }) => {
      const owned = await fragment(500)
      const before = Date.now()
      await store.put(owned.id, owned.bytes, { claims: [claim(OWNER, 1000)] })
      const meta = await store.meta(owned.id)
      expect(meta?.claims).toEqual([claim(OWNER, 1000)])
      expect(meta?.size).toBe(500)
      expect(meta?.storedAt).toBeGreaterThanOrEqual(before)
      expect(meta?.storedAt).toBeLessThanOrEqual(Date.now())
      // A second owner's put adds its claim (a squatter cannot take the first owner's place)...
      await store.put(owned.id, owned.bytes, { claims: [claim(OTHER, 2000, 'squatter')] })
      // ...and an owner's new claim replaces its own old one.
      await store.put(owned.id, owned.bytes, { claims: [claim(OWNER, 3000, 'again')] })
      const claims = (await store.meta(owned.id))?.claims ?? []
      expect(claims.sort((x, y) => x.expiresAt - y.expiresAt)).toEqual([claim(OTHER, 2000, 'squatter'), claim(OWNER, 3000, 'again')])
      expect(await store.stat()).toMatchObject({ used: 500, count: 1 })
      const dated = await fragment(10)
      await store.put(dated.id, dated.bytes, { storedAt: 1_700_000_000_000 })
      expect(await store.meta(dated.id)).toEqual({ claims: [], storedAt: 1_700_000_000_000, size: 10 })
    }))

    it('updates claims atomically, frees the bytes with the last one, and leaves an unknown id alone', () => withStore(QUOTA, async ({ store }) => {
      const f = await fragment(KiB)
      await store.put(f.id, f.bytes, { claims: [claim(OWNER)] })
      // Twenty concurrent read-modify-writes: none may be lost to another.
      await Promise.all(Array.from({ length: 20 }, (_, i) => store.updateClaims(f.id, claims => [...claims, claim(ownerNo(i + 1))])))
      expect((await store.meta(f.id))?.claims).toHaveLength(21)
      expect(await store.updateClaims(f.id, claims => claims.filter(c => c.owner === OWNER))).toEqual([claim(OWNER)])
      expect(await rejection(store.updateClaims(f.id, () => [claim('nope')]))).toMatchObject({ name: 'InvalidFragmentMetaError' })
      expect((await store.meta(f.id))?.claims).toEqual([claim(OWNER)])
      expect(await store.updateClaims(f.id, () => [])).toEqual([])
      expect(await store.has([f.id])).toEqual([false])
      expect(await store.stat()).toMatchObject({ used: 0, count: 0 })
      expect(await store.updateClaims(f.id, () => [claim()])).toBeUndefined()
      expect(await store.has([f.id])).toEqual([false])
    }))

    it(`refuses claim ${MAX_CLAIMS_PER_FRAGMENT + 1} on one fragment with ClaimLimitError (QUOTA_EXCEEDED)`, () => withStore(QUOTA, async ({ store }) => {
      const f = await fragment(100)
      const full = Array.from({ length: MAX_CLAIMS_PER_FRAGMENT }, (_, i) => claim(ownerNo(i + 1)))
      await store.put(f.id, f.bytes, { claims: full })
      const err = await rejection(store.put(f.id, f.bytes, { claims: [claim(OWNER)] }))
      expect(err).toMatchObject({ name: 'ClaimLimitError', code: 'QUOTA_EXCEEDED', details: { scope: 'claims' } })
      expect(await rejection(store.updateClaims(f.id, c => [...c, claim(OWNER)]))).toMatchObject({ name: 'ClaimLimitError' })
      expect((await store.meta(f.id))?.claims).toHaveLength(MAX_CLAIMS_PER_FRAGMENT)
      await store.put(f.id, f.bytes, { claims: [claim(ownerNo(1), 5)] }) // a claim held already may still change
      expect((await store.meta(f.id))?.claims.find(c => c.owner === ownerNo(1))?.expiresAt).toBe(5)
    }))

    it('lists every fragment with its size and claims', () => withStore(QUOTA, async ({ store }) => {
      const [a, b] = [await fragment(10), await fragment(20)]
      await store.put(a.id, a.bytes, { claims: [claim(OWNER, 7)] })
      await store.put(b.id, b.bytes, { claims: [claim(OTHER, 8), claim(OWNER, 9)] })
      const listed = []
      for await (const e of store.list()) listed.push(e)
      expect(listed.sort((x, y) => x.size - y.size)).toEqual([
        { id: a.id, size: 10, claims: [claim(OWNER, 7)] },
        { id: b.id, size: 20, claims: [claim(OTHER, 8), claim(OWNER, 9)] }
      ])
    }))

    it('keeps stat consistent through puts and deletes', () => withStore(QUOTA, async ({ store }) => {
      expect(await store.stat()).toEqual({ capacity: QUOTA, used: 0, free: QUOTA, count: 0 })
      const frags = await Promise.all([3, 3000, 70_000].map(fragment))
      for (const f of frags) await store.put(f.id, f.bytes)
      expect(await store.stat()).toEqual({ capacity: QUOTA, used: 73_003, free: QUOTA - 73_003, count: 3 })
      await store.delete(frags[1]!.id)
      expect(await store.stat()).toEqual({ capacity: QUOTA, used: 70_003, free: QUOTA - 70_003, count: 2 })
    }))

    it('honours an aborted signal: nothing is stored', () => withStore(QUOTA, async ({ store }) => {
      const { id, bytes } = await fragment(KiB)
      const signal = AbortSignal.abort()
      expect(await rejection(store.put(id, bytes, {}, { signal }))).toMatchObject({ name: 'AbortError' })
      expect(await rejection(store.get(id, { signal }))).toMatchObject({ name: 'AbortError' })
      expect(await store.stat()).toMatchObject({ used: 0, count: 0 })
    }))

    it('reports bit rot as CORRUPT_FRAGMENT, drops the fragment, and accepts a repair', async ({ skip }) => {
      await withStore(QUOTA, async ({ store, corrupt }) => {
        if (corrupt === undefined) return skip('this adapter offers no way to corrupt stored bytes')
        const keep = await fragment(KiB)
        const rot = await fragment(2 * KiB)
        await store.put(keep.id, keep.bytes)
        await store.put(rot.id, rot.bytes)
        await corrupt(rot.id)
        expect(await rejection(store.get(rot.id))).toMatchObject({ name: 'CorruptFragmentError', code: 'CORRUPT_FRAGMENT' })
        expect(await store.has([rot.id, keep.id])).toEqual([false, true])
        expect(await store.stat()).toMatchObject({ used: KiB, count: 1 })
        await store.put(rot.id, rot.bytes)
        expect(sameBytes(await store.get(rot.id), rot.bytes)).toBe(true)
      })
    })

    /** All chunks of a streamed read, joined, and their sizes. */
    async function drain (chunks: AsyncIterable<Uint8Array>): Promise<{ bytes: Uint8Array, sizes: number[] }> {
      const parts: Uint8Array[] = []
      for await (const c of chunks) parts.push(c)
      const bytes = new Uint8Array(parts.reduce((n, c) => n + c.byteLength, 0))
      let off = 0
      for (const c of parts) { bytes.set(c, off); off += c.byteLength }
      return { bytes, sizes: parts.map(c => c.byteLength) }
    }

    it('streams a fragment in chunks of the size asked for (openRead)', async ({ skip }) => {
      await withStore(QUOTA, async ({ store }) => {
        if (store.openRead === undefined) return skip('this adapter has no streaming read')
        const { id, bytes } = await fragment(MiB + 5)
        await store.put(id, bytes)
        const read = await store.openRead(id, { chunkBytes: 256 * KiB })
        expect(read.size).toBe(MiB + 5)
        const got = await drain(read.chunks)
        expect(got.sizes).toEqual([256 * KiB, 256 * KiB, 256 * KiB, 256 * KiB, 5])
        expect(sameBytes(got.bytes, bytes)).toBe(true)
        await read.close() // idempotent after the end
        const one = await store.openRead(id, { chunkBytes: 4 * MiB })
        expect((await drain(one.chunks)).sizes).toEqual([MiB + 5])
      })
    })

    it('refuses a streamed read of a missing or malformed id, and releases an unread one (openRead)', async ({ skip }) => {
      await withStore(QUOTA, async ({ store }) => {
        if (store.openRead === undefined) return skip('this adapter has no streaming read')
        const { id, bytes } = await fragment(KiB)
        expect(await rejection(store.openRead(id))).toMatchObject({ name: 'FragmentNotFoundError', code: 'NOT_FOUND' })
        expect(await rejection(store.openRead('../x'))).toMatchObject({ code: 'BAD_REQUEST' })
        await store.put(id, bytes)
        const unread = await store.openRead(id)
        await unread.close() // never iterated: closing alone must release it
        const stopped = await store.openRead(id, { chunkBytes: 100 })
        for await (const c of stopped.chunks) { expect(c.byteLength).toBe(100); break }
        expect(await store.delete(id)).toBe(true)
        expect(await store.stat()).toMatchObject({ used: 0, count: 0 })
      })
    })

    it('never yields the last chunk of a rotten fragment: CORRUPT_FRAGMENT, then dropped (openRead)', async ({ skip }) => {
      await withStore(QUOTA, async ({ store, corrupt }) => {
        const openRead = store.openRead?.bind(store)
        if (openRead === undefined || corrupt === undefined) return skip('no streaming read or no way to corrupt')
        const rot = await fragment(3 * KiB)
        await store.put(rot.id, rot.bytes)
        await corrupt(rot.id)
        const got: Uint8Array[] = []
        const err = await rejection((async () => {
          const read = await openRead(rot.id, { chunkBytes: KiB })
          for await (const c of read.chunks) got.push(c)
        })())
        expect(err).toMatchObject({ name: 'CorruptFragmentError', code: 'CORRUPT_FRAGMENT' })
        expect(got.reduce((n, c) => n + c.byteLength, 0)).toBeLessThan(3 * KiB)
        expect(await store.has([rot.id])).toEqual([false])
        expect(await store.stat()).toMatchObject({ used: 0, count: 0 })
      })
    })

    it('refuses every operation after close', () => withStore(QUOTA, async ({ store }) => {
      const { id, bytes } = await fragment(10)
      await store.put(id, bytes)
      await store.close()
      await store.close()
      for (const call of [store.get(id), store.put(id, bytes), store.has([id]), store.stat()]) {
        expect(await rejection(call)).toMatchObject({ name: 'StoreClosedError' })
      }
    }))
  })
}
