import { spawn } from 'node:child_process'
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { runKeyValueStoreTests } from './conformance.ts'
import { FsKeyValueStore } from './fs.ts'

const SAVE_LOOP = join(import.meta.dirname, '..', '..', '..', 'test', 'support', 'kv-save-loop.ts')
const text = (s: string): Uint8Array => new TextEncoder().encode(s)
const modeOf = async (path: string): Promise<number> => (await stat(path)).mode & 0o777

// The root is a directory the store has to make: its mode is checked below.
let base: string | undefined
runKeyValueStoreTests('FsKeyValueStore',
  async () => new FsKeyValueStore(join(base ??= await mkdtemp(join(tmpdir(), 'shardfarm-kv-')), 'kv')),
  async () => { await rm(base!, { recursive: true, force: true }); base = undefined })

describe('FsKeyValueStore on a real disk', () => {
  let dir = ''
  afterEach(async () => { await rm(dir, { recursive: true, force: true }) })
  const fresh = async (): Promise<string> => join(dir = await mkdtemp(join(tmpdir(), 'shardfarm-kv-')), 'kv')

  it('keeps each value in a 0600 file at its key\'s path, in 0700 directories, with no temp file left', async () => {
    const root = await fresh()
    const store = new FsKeyValueStore(root)
    const id = 'ab'.repeat(32)
    await store.save(['files', id], text('entry'))
    await store.save(['jobs', 'j1', 'seg', '0'], text('segment'))
    await store.save(['jobs', 'j1'], text('job'))
    await store.save(['jobs', 'j1'], text('job, again'))
    expect((await readdir(root, { recursive: true })).sort()).toEqual([
      'files', `files/${id}.v`, 'jobs', 'jobs/j1', 'jobs/j1.v', 'jobs/j1/seg', 'jobs/j1/seg/0.v'
    ])
    for (const d of ['', 'files', 'jobs', 'jobs/j1', 'jobs/j1/seg']) expect(await modeOf(join(root, d)), d).toBe(0o700)
    for (const f of [`files/${id}.v`, 'jobs/j1.v', 'jobs/j1/seg/0.v']) expect(await modeOf(join(root, f)), f).toBe(0o600)
  })

  it('a save or removeRange killed part-way leaves the old value; its leftovers are neither read nor listed', async () => {
    const root = await fresh()
    const store = new FsKeyValueStore(root)
    await store.save(['files', 'f'], text('old'))
    // What a save killed before its rename leaves: its temp file, whole or partial, beside the
    // value, or beside no value at all when it was the key's first save.
    await writeFile(join(root, 'files', 'f.v.0b6c1e52-3f0c-4bd4-a2a5-0c2f6f1f9c11.tmp'), 'ne')
    await writeFile(join(root, 'files', 'g.v.7d1a4f0e-5b8e-4c4b-9f55-2b9a1e0d6a42.tmp'), 'new value, whole')
    // What a removeRange killed after renaming the subtree away leaves, and files nobody wrote.
    await mkdir(join(root, 'files', 'h.5e7a.gone', 'deeper'), { recursive: true })
    await writeFile(join(root, 'files', 'h.5e7a.gone', 'deeper', 'x.v'), 'removed')
    await writeFile(join(root, 'files', 'notes.txt'), 'not a value')
    await writeFile(join(root, 'files', 'bad%name.v'), 'not a key')

    expect(new TextDecoder().decode(await store.load(['files', 'f']))).toBe('old')
    expect(await store.load(['files', 'g'])).toBeUndefined()
    expect(await store.keys([])).toEqual([['files', 'f']])
    expect(await store.keys(['files'])).toEqual([['files', 'f']])
    // The next save of a key is not disturbed by a dead one's temp file.
    await store.save(['files', 'f'], text('new'))
    expect(new TextDecoder().decode(await store.load(['files', 'f']))).toBe('new')
    // removeRange above them takes the leftovers too.
    await store.removeRange(['files'])
    expect(await readdir(root)).toEqual([])
  })

  it('survives SIGKILL mid-save: every value is whole, and acknowledged saves are kept', async () => {
    const root = await fresh()
    const acknowledged = new Map<string, number>()
    // First a kill that certainly lands halfway through writing a file, then one at a random moment
    // (which most often lands in a flush, the bytes written).
    for (const [round, tear] of [[0, true], [1, false]] as const) {
      const args = [SAVE_LOOP, root, String(1 + round * 1_000_000), ...tear ? ['16'] : []]
      const child = spawn(process.execPath, ['--no-warnings', ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
      let out = ''
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => { out += chunk })
      const exited = new Promise(resolve => child.once('exit', (_code, signal) => { resolve(signal) }))
      await expect.poll(() => out.includes('ready\n'), { timeout: 20_000 }).toBe(true)
      if (!tear) {
        // Once every key has been saved a few times: a torn overwrite is what this looks for.
        await expect.poll(() => (out.match(/^saved /gm) ?? []).length, { timeout: 30_000 }).toBeGreaterThanOrEqual(24)
        await new Promise(resolve => setTimeout(resolve, Math.random() * 50))
        child.kill('SIGKILL')
      }
      expect(await exited).toBe('SIGKILL')
      if (tear) expect(out).toContain('torn\n')

      for (const [, w, slot, n] of out.matchAll(/^saved (\d+) (\d+) (\d+)$/gm)) acknowledged.set(`${w}/${slot}`, Number(n))
      const store = new FsKeyValueStore(root)
      const keys = await store.keys([])
      for (const key of keys) {
        const bytes = (await store.load(key))!
        const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
        const size = view.getUint32(0)
        const n = view.getUint32(4)
        expect(bytes.byteLength, key.join('/')).toBe(size)
        expect(bytes.subarray(8).every(b => b === (n & 0xff)), key.join('/')).toBe(true)
        // A writer's later save may have landed after the last one it reported, never an earlier one.
        expect(n).toBeGreaterThanOrEqual(acknowledged.get(key.slice(1).join('/')) ?? 0)
      }
      expect(keys.map(k => k.slice(1).join('/'))).toEqual(expect.arrayContaining([...acknowledged.keys()]))
    }
  })
})
