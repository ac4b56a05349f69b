// Browser harness for e2e/idb-store.spec.ts: the real IdbFragmentStore in a page that the spec
// reloads. Everything that runs within one page (the shared conformance suite, quota, eviction,
// the browser's own storage limit) is in src/stores/idb.browser.test.ts (`npm run test:browser`).
import type { StoreStat } from '../../src/core/fragment-store.ts'
import { sha256Hex, toHex } from '../../src/core/hash.ts'
import { IdbFragmentStore } from '../../src/stores/idb.ts'

const stores = new Map<string, IdbFragmentStore>()

function held (name: string): IdbFragmentStore {
  const store = stores.get(name)
  if (store === undefined) throw new Error(`no store ${name} open in this page`)
  return store
}

const idbHarness = {
  async open (name: string, quota: number): Promise<StoreStat> {
    const store = await IdbFragmentStore.open(name, { quota })
    stores.set(name, store)
    return await store.stat()
  },
  /** Puts `size` random bytes; resolves to the id and the bytes in hex. */
  async putRandom (name: string, size: number): Promise<{ id: string, hex: string }> {
    const bytes = new Uint8Array(size)
    for (let i = 0; i < size; i += 65536) crypto.getRandomValues(bytes.subarray(i, Math.min(size, i + 65536)))
    const id = await sha256Hex(bytes)
    await held(name).put(id, bytes)
    return { id, hex: toHex(bytes) }
  },
  async get (name: string, id: string): Promise<string> {
    return toHex(await held(name).get(id))
  },
  async stat (name: string): Promise<StoreStat> {
    return await held(name).stat()
  }
}

declare global {
  interface Window {
    idbHarness: typeof idbHarness
  }
}
window.idbHarness = idbHarness
document.getElementById('status')!.textContent = 'ready'
