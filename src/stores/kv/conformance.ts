/**
 * The shared test suite every `KeyValueStore` adapter must pass, in its real environment (Node for
 * memory and disk, Chromium for IndexedDB). It imports nothing from Node: whatever is specific to
 * an environment arrives through `open` and `close`.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { KeyValueStore, StorageKey } from '../../core/key-value-store.ts'

const MiB = 1024 * 1024

/** Random bytes of any length (getRandomValues fills at most 64 KiB per call). */
function randomBytes (n: number): Uint8Array {
  const out = new Uint8Array(n)
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(out.subarray(i, Math.min(n, i + 65536)))
  return out
}

const text = (s: string): Uint8Array => new TextEncoder().encode(s)

/**
 * Byte equality that names the first difference. vitest's `toEqual` walks a typed array element by
 * element through its generic matcher, which takes seconds on 1 MiB.
 */
function expectBytes (actual: Uint8Array | undefined, expected: Uint8Array): void {
  expect(actual, 'a value').toBeInstanceOf(Uint8Array)
  expect(actual!.byteLength).toBe(expected.byteLength)
  const at = actual!.findIndex((b, i) => b !== expected[i])
  expect(at, 'first differing byte').toBe(-1)
}

/** Resolves to the rejection of `p` (failing when it fulfils). */
async function rejection (p: Promise<unknown>): Promise<{ name: string, code?: string }> {
  try {
    await p
  } catch (err) {
    return err as { name: string, code?: string }
  }
  throw new Error('expected a rejection')
}

/** Keys that are not keys: empty, unsafe or overlong segments, non-strings. */
const INVALID_KEYS: unknown[][] = [
  [], [''], ['.'], ['..'], ['/'], ['a/b'], ['\\'], ['a\\b'], ['é'], ['日本'], ['a b'], ['a\u0000'],
  ['x'.repeat(129)], ['a', ''], ['ok', '..'], ['a', '/etc'], [42], [null]
]

/**
 * Registers the conformance suite for one adapter under `describe(name)`.
 *
 * `open` gives the store under test. Until `close` is called it must give the same store again,
 * with what was saved in it (for a persistent adapter: open the same directory or database; for
 * memory: return the same object). `close` runs after each test, once the store is closed, and
 * removes what it left, so that the next `open` gives a fresh, empty store.
 */
export function runKeyValueStoreTests (name: string, open: () => Promise<KeyValueStore>, close?: () => Promise<void>): void {
  describe(`KeyValueStore conformance: ${name}`, () => {
    let store: KeyValueStore

    beforeEach(async () => { store = await open() })
    afterEach(async () => {
      await store.close?.().catch(() => {})
      await close?.()
    })

    it('round-trips bytes exactly: empty, one byte, 1 MiB; an absent key is undefined', async () => {
      expect(await store.load(['nothing'])).toBeUndefined()
      const values: Array<[StorageKey, Uint8Array]> = [
        [['empty'], new Uint8Array(0)], [['one'], Uint8Array.of(0xff)], [['big', 'value'], randomBytes(MiB)]
      ]
      for (const [key, value] of values) await store.save(key, value)
      for (const [key, value] of values) expectBytes(await store.load(key), value)
      expect(await store.load(['big'])).toBeUndefined() // only a prefix of a stored key
    })

    it('a save replaces the earlier value, whether longer or shorter', async () => {
      await store.save(['k'], text('a longer first value'))
      await store.save(['k'], text('short'))
      expectBytes(await store.load(['k']), text('short'))
      const long = randomBytes(100_000)
      await store.save(['k'], long)
      expectBytes(await store.load(['k']), long)
      await store.save(['k'], new Uint8Array(0))
      expectBytes(await store.load(['k']), new Uint8Array(0))
    })

    it('a key and the keys below it hold values of their own, removed one at a time', async () => {
      await store.save(['jobs', 'j1'], text('job'))
      await store.save(['jobs', 'j1', 'seg', '0'], text('segment 0'))
      expectBytes(await store.load(['jobs', 'j1']), text('job'))
      expectBytes(await store.load(['jobs', 'j1', 'seg', '0']), text('segment 0'))
      await store.remove(['jobs', 'j1'])
      expect(await store.load(['jobs', 'j1'])).toBeUndefined()
      expectBytes(await store.load(['jobs', 'j1', 'seg', '0']), text('segment 0'))
      await store.save(['jobs', 'j1'], text('job again'))
      await store.remove(['jobs', 'j1', 'seg', '0'])
      expectBytes(await store.load(['jobs', 'j1']), text('job again'))
      await store.remove(['never', 'stored']) // removing an absent key succeeds
      expect(await store.keys([])).toEqual([['jobs', 'j1']])
    })

    it('lists the keys under a prefix, sorted, and none that merely shares characters with it', async () => {
      // Segments with dots, dashes, capitals and the longest lengths: a disk adapter maps them to
      // names, where `a.v` or `.hidden` could be mistaken for something else.
      const stored: StorageKey[] = [
        ['b'], ['a', 'b', 'c'], ['ab'], ['a.v'], ['a', 'b'], ['A'], ['a'], ['a-'], ['_'], ['a', 'a', 'c'], ['a', 'B'],
        ['.hidden'], ['x..y', 'v'], ['.'.repeat(128)], ['x'.repeat(128), 'y'.repeat(128)]
      ]
      for (const key of stored) await store.save(key, text(key.join('/')))
      expect(await store.keys([])).toEqual([
        ['.'.repeat(128)], ['.hidden'], ['A'], ['_'], ['a'], ['a', 'B'], ['a', 'a', 'c'], ['a', 'b'], ['a', 'b', 'c'],
        ['a-'], ['a.v'], ['ab'], ['b'], ['x..y', 'v'], ['x'.repeat(128), 'y'.repeat(128)]
      ])
      expect(await store.keys(['a'])).toEqual([['a'], ['a', 'B'], ['a', 'a', 'c'], ['a', 'b'], ['a', 'b', 'c']])
      expect(await store.keys(['a', 'b'])).toEqual([['a', 'b'], ['a', 'b', 'c']])
      expect(await store.keys(['a', 'a'])).toEqual([['a', 'a', 'c']]) // the prefix itself holds nothing
      expect(await store.keys(['x..y'])).toEqual([['x..y', 'v']])
      expect(await store.keys(['zz'])).toEqual([])
      expect(await store.keys(['a', 'b', 'c', 'd'])).toEqual([])
      for (const key of stored) expectBytes(await store.load(key), text(key.join('/')))
    })

    it('removeRange removes a prefix and everything below it, and leaves its siblings', async () => {
      for (const key of [['a'], ['a', 'b'], ['a', 'b', 'c'], ['a', 'x', 'y'], ['ab'], ['a.v'], ['b', 'a']]) await store.save(key, text(key.join('/')))
      await store.removeRange(['a', 'b'])
      expect(await store.keys([])).toEqual([['a'], ['a', 'x', 'y'], ['a.v'], ['ab'], ['b', 'a']])
      await store.removeRange(['a'])
      expect(await store.keys([])).toEqual([['a.v'], ['ab'], ['b', 'a']])
      expectBytes(await store.load(['ab']), text('ab'))
      expectBytes(await store.load(['a.v']), text('a.v'))
      await store.removeRange(['nothing', 'here'])
      // The range is usable again at once.
      await store.save(['a', 'b'], text('back'))
      expect(await store.keys(['a'])).toEqual([['a', 'b']])
      await store.removeRange([])
      expect(await store.keys([])).toEqual([])
    })

    it('refuses invalid keys on every method, and stores nothing for them', async () => {
      for (const key of INVALID_KEYS) {
        const k = key as unknown as StorageKey
        for (const call of [store.load(k), store.save(k, text('x')), store.remove(k)]) {
          expect((await rejection(call)).name, JSON.stringify(key)).toBe('InvalidStorageKeyError')
        }
        if (key.length > 0) {
          for (const call of [store.keys(k), store.removeRange(k)]) {
            expect((await rejection(call)).name, JSON.stringify(key)).toBe('InvalidStorageKeyError')
          }
        }
      }
      expect(await store.keys([])).toEqual([])
      await store.save(['x'.repeat(128)], text('the longest segment is fine'))
      expect(await store.keys([])).toEqual([['x'.repeat(128)]])
    })

    it('concurrent saves to different keys all land; to one key, one of them wins whole', async () => {
      const keys: StorageKey[] = []
      for (let i = 0; i < 32; i++) keys.push(['c', String(i)], ['c', String(i), 'below'], ['d', String(i % 4), String(i)])
      await Promise.all(keys.map(async key => { await store.save(key, text(key.join('/'))) }))
      for (const key of keys) expectBytes(await store.load(key), text(key.join('/')))
      expect(await store.keys(['c'])).toHaveLength(64)
      expect(await store.keys(['d'])).toHaveLength(32)

      const contenders = Array.from({ length: 8 }, (_, i) => new Uint8Array(256 * 1024).fill(i + 1))
      await Promise.all(contenders.map(async v => { await store.save(['same'], v) }))
      const won = await store.load(['same'])
      expectBytes(won, contenders[won![0]! - 1]!)
    })

    it('values are copies: changing a saved or loaded array, or its buffer, changes nothing stored', async () => {
      const original = randomBytes(4096)
      const mine = original.slice()
      const saving = store.save(['k'], mine)
      mine.fill(0) // the caller reuses its buffer before the save has finished
      await saving
      const loaded = await store.load(['k'])
      expectBytes(loaded, original)
      loaded!.fill(1)
      expectBytes(await store.load(['k']), original)

      // A view stores its own bytes, not the rest of the buffer around it.
      const around = randomBytes(64 * 1024)
      const view = around.subarray(1000, 1100)
      await store.save(['view'], view)
      const back = await store.load(['view'])
      expectBytes(back, around.slice(1000, 1100))
      expect(back!.buffer.byteLength).toBeLessThan(around.byteLength)
    })

    it('keeps values and removals across closing and opening the store again', async () => {
      const big = randomBytes(MiB)
      await store.save(['files', 'f1'], text('one'))
      await store.save(['files', 'f1', 'copies'], big)
      await store.save(['files', 'f2'], text('two'))
      await store.save(['gone', 'g'], text('removed before closing'))
      await store.remove(['files', 'f2'])
      await store.removeRange(['gone'])
      await store.close?.()
      store = await open()
      expect(await store.keys([])).toEqual([['files', 'f1'], ['files', 'f1', 'copies']])
      expectBytes(await store.load(['files', 'f1']), text('one'))
      expectBytes(await store.load(['files', 'f1', 'copies']), big)
    })
  })
}
