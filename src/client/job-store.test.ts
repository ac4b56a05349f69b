import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll } from 'vitest'
import { FsKeyValueStore } from '../stores/kv/fs.ts'
import { MemoryKeyValueStore } from '../stores/kv/memory.ts'
import { runJobStoreTests } from './job-store.conformance.ts'

runJobStoreTests('MemoryKeyValueStore', { open: async () => new MemoryKeyValueStore() })

// Each store gets a directory of its own; reopening is a new store on the same directory.
const base = await mkdtemp(join(tmpdir(), 'shardfarm-jobs-'))
afterAll(async () => { await rm(base, { recursive: true, force: true }) })
let n = 0
runJobStoreTests('FsKeyValueStore', {
  open: async () => new FsKeyValueStore(join(base, String(++n))),
  reopen: async () => new FsKeyValueStore(join(base, String(n)))
})
