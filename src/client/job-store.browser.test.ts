import { IdbKeyValueStore } from '../stores/kv/idb.ts'
import { runJobStoreTests } from './job-store.conformance.ts'

// In Chromium: real IndexedDB, a database of its own per case; reopening opens it again, as a
// reloaded page does.
let name = ''
runJobStoreTests('IdbKeyValueStore', {
  open: async () => await IdbKeyValueStore.open(name = `jobs-test-${crypto.randomUUID()}`),
  reopen: async () => await IdbKeyValueStore.open(name)
})
