// Browser harness: drives the real IdbFragmentStore in Chromium for e2e/idb-store.spec.ts, through
// `window.runIdbConformance` (the shared suite) and `window.idbHarness` (browser-only outcomes).
import { deleteDB, openDB } from 'idb'
import type { FragmentId, StoreStat } from '../../src/core/fragment-store.ts'
import { fromHex, sha256Hex, toHex } from '../../src/core/hash.ts'
import type * as Conformance from '../../src/stores/conformance.ts'
import { IdbFragmentStore } from '../../src/stores/idb.ts'
import { registered, run } from './mini-vitest.ts'
import type { Report } from './mini-vitest.ts'

// The suite imports 'vitest', which only the spec's own Vite server aliases to mini-vitest. Held in
// a variable so that Vite's dependency scan (of every server, the shared one too) does not follow
// it and try to bundle the real vitest for the browser.
const SUITE = '/src/stores/conformance.ts'

let dbSeq = 0
const uniqueName = (prefix: string): string => `${prefix}-${Date.now()}-${dbSeq++}`

/** Runs `runFragmentStoreTests` against fresh databases; `registered` guards against an empty run. */
async function runIdbConformance (): Promise<Report & { registered: number }> {
  const suite = await import(/* @vite-ignore */ SUITE) as typeof Conformance
  suite.runFragmentStoreTests('IdbFragmentStore', async ({ quota }) => {
    const name = uniqueName('conformance')
    const store = await IdbFragmentStore.open(name, { quota })
    return {
      store,
      cleanup: async () => { await store.close(); await deleteDB(name) },
      // Bit rot below the store's API: a second connection rewrites the stored bytes.
      corrupt: async (id: FragmentId) => {
        const raw = await openDB(name)
        try {
          const bytes = await raw.get('fragments', id) as Uint8Array
          bytes[0] = (bytes[0] ?? 0) ^ 1
          await raw.put('fragments', bytes, id)
        } finally {
          raw.close()
        }
      }
    }
  })
  const count = registered()
  return { ...await run(), registered: count }
}

/** A rejection as plain data, since an Error does not survive `page.evaluate`. */
interface Refusal { name: string, code?: string, details?: unknown }

const stores = new Map<string, IdbFragmentStore>()
const evictions = new Map<string, number>()

function held (name: string): IdbFragmentStore {
  const store = stores.get(name)
  if (store === undefined) throw new Error(`no store ${name} open in this page`)
  return store
}

const idbHarness = {
  async open (name: string, quota: number): Promise<StoreStat> {
    evictions.set(name, 0)
    const store = await IdbFragmentStore.open(name, { quota, onEvicted: () => { evictions.set(name, (evictions.get(name) ?? 0) + 1) } })
    stores.set(name, store)
    return await store.stat()
  },
  /** Puts `size` random bytes; resolves to the id and the bytes in hex, or to the refusal. */
  async putRandom (name: string, size: number): Promise<{ id: string, hex: string } | Refusal> {
    const bytes = new Uint8Array(size)
    for (let i = 0; i < size; i += 65536) crypto.getRandomValues(bytes.subarray(i, Math.min(size, i + 65536)))
    const id = await sha256Hex(bytes)
    try {
      await held(name).put(id, bytes)
      return { id, hex: size <= 65536 ? toHex(bytes) : '' }
    } catch (err) {
      const { name: errName, code, details } = err as Refusal
      return { name: errName, code, details }
    }
  },
  async get (name: string, id: string): Promise<string> {
    return toHex(await held(name).get(id))
  },
  async has (name: string, ids: string[]): Promise<boolean[]> {
    return await held(name).has(ids)
  },
  async stat (name: string): Promise<StoreStat> {
    return await held(name).stat()
  },
  async evicted (name: string): Promise<{ evicted: boolean, calls: number }> {
    return { evicted: await held(name).evicted(), calls: evictions.get(name) ?? 0 }
  },
  /** Any store call after eviction, as data. */
  async refusalAfterEviction (name: string): Promise<Refusal | undefined> {
    const bytes = fromHex('00ff')
    try {
      await held(name).put(await sha256Hex(bytes), bytes)
      return undefined
    } catch (err) {
      const { name: errName, code } = err as Refusal
      return { name: errName, code }
    }
  },
  async close (name: string): Promise<void> {
    await held(name).close()
    stores.delete(name)
  }
}

declare global {
  interface Window {
    runIdbConformance: typeof runIdbConformance
    idbHarness: typeof idbHarness
  }
}
window.runIdbConformance = runIdbConformance
window.idbHarness = idbHarness
document.getElementById('status')!.textContent = 'ready'
