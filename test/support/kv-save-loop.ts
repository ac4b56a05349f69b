/**
 * Child process for the SIGKILL test in `src/stores/kv/fs.test.ts`: four writers save values of up
 * to 4 MiB to their own four keys each under the store in argv[2], round and round, until killed.
 * Each acknowledged save is reported on stdout as `saved <writer> <slot> <generation>`.
 *
 * A value describes itself: its length and generation in the first 8 bytes, then the generation's
 * low byte repeated, so the parent can tell a whole value from a torn one without knowing sizes.
 *
 * Run directly by Node (type stripping), so it imports nothing that needs a bundler or vitest.
 */
import { FsKeyValueStore } from '../../src/stores/kv/fs.ts'

const WRITERS = 4
const SLOTS = 4
// Node writes a buffer in 512 KiB chunks: large values give a kill real chances to land between
// chunks, where a store writing in place would leave a torn value behind.
const MAX_SIZE = 4 * 1024 * 1024

const root = process.argv[2]
if (root === undefined) throw new Error('usage: kv-save-loop.ts ROOT')
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
  for (let n = 1; ; n++) {
    const slot = n % SLOTS
    await store.save(['w', String(w), String(slot)], value(n, 8 + Math.floor(Math.random() * (MAX_SIZE - 8))))
    process.stdout.write(`saved ${w} ${slot} ${n}\n`)
  }
}

await Promise.all(Array.from({ length: WRITERS }, async (_, w) => await writer(w)))
