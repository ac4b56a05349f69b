/**
 * Child process for the SIGKILL tests in `src/stores/kv/fs.test.ts`: four writers save values of up
 * to 4 MiB to two keys of their own each under the store in argv[2], round and round, until killed.
 * Each acknowledged save is reported on stdout as `saved <writer> <slot> <generation>`.
 *
 * argv[3] is the first generation (a run after a killed one starts above it). With argv[4] = N,
 * after N acknowledged saves the next file write stops halfway and the process kills itself: a
 * kill that certainly lands mid-write, where a random one often lands in a flush.
 *
 * A value describes itself: its length and generation in the first 8 bytes, then the generation's
 * low byte repeated, so the parent can tell a whole value from a torn one without knowing sizes.
 *
 * Run directly by Node (type stripping), so it imports nothing that needs a bundler or vitest.
 */
import { createRequire, syncBuiltinESMExports } from 'node:module'
import { FsKeyValueStore } from '../../src/stores/kv/fs.ts'

const WRITERS = 4
const SLOTS = 2
// Node writes a buffer in 512 KiB chunks: large values give a kill real chances to land between
// chunks, where a store writing in place would leave a torn value behind.
const MAX_SIZE = 4 * 1024 * 1024

const root = process.argv[2]
if (root === undefined) throw new Error('usage: kv-save-loop.ts ROOT [FIRST-GENERATION] [TEAR-AFTER]')
const first = Number(process.argv[3] ?? 1)
const tearAfter = process.argv[4] === undefined ? undefined : Number(process.argv[4])
let acknowledged = 0

if (tearAfter !== undefined) {
  // The store imports `writeFile` from node:fs/promises; patching the builtin and syncing its ESM
  // exports reaches that import too.
  const fsp = createRequire(import.meta.url)('node:fs/promises') as typeof import('node:fs/promises')
  const writeFile = fsp.writeFile
  fsp.writeFile = (async (path: string, data: Uint8Array, options: unknown) => {
    if (acknowledged < tearAfter) return await writeFile(path, data, options as never)
    await writeFile(path, data.subarray(0, data.byteLength >> 1), options as never)
    process.stdout.write('torn\n', () => { process.kill(process.pid, 'SIGKILL') })
    return await new Promise<never>(() => {})
  }) as typeof fsp.writeFile
  syncBuiltinESMExports()
}

const store = new FsKeyValueStore(root)
process.stdout.write('ready\n')

/** A whole value of generation `n`. */
function value (n: number, size: number): Uint8Array {
  const bytes = new Uint8Array(size).fill(n & 0xff)
  const view = new DataView(bytes.buffer)
  view.setUint32(0, size)
  view.setUint32(4, n)
  return bytes
}

async function writer (w: number): Promise<never> {
  for (let n = first; ; n++) {
    const slot = n % SLOTS
    await store.save(['w', String(w), String(slot)], value(n, 64 * 1024 + Math.floor(Math.random() * (MAX_SIZE - 64 * 1024))))
    acknowledged++
    process.stdout.write(`saved ${w} ${slot} ${n}\n`)
  }
}

await Promise.all(Array.from({ length: WRITERS }, async (_, w) => await writer(w)))
