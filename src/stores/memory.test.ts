import { runFragmentStoreTests } from './conformance.ts'
import { MemoryFragmentStore } from './memory.ts'

runFragmentStoreTests('MemoryFragmentStore', async ({ quota }) => {
  const store = new MemoryFragmentStore({ quota })
  return {
    store,
    cleanup: async () => { await store.close() },
    corrupt: async id => { store.corruptForTesting(id) }
  }
})
