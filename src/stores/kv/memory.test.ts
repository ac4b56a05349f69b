import { runKeyValueStoreTests } from './conformance.ts'
import { MemoryKeyValueStore } from './memory.ts'

// Memory lasts as long as the object: "opening it again" is handing out the same one.
let store: MemoryKeyValueStore | undefined
runKeyValueStoreTests('MemoryKeyValueStore', async () => (store ??= new MemoryKeyValueStore()), async () => { store = undefined })
