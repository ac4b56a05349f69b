// The owner index as the CLI keeps it: files on disk. (OwnerIndex lives in src/client/owner-index.ts.)
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { OwnerIndex, type OwnedFile } from '../client/owner-index.ts'
import { FsKeyValueStore } from '../stores/kv/fs.ts'
import { importLegacyIndex } from './legacy-index.ts'

const entry = (c: string, createdAt: number, extra: Partial<OwnedFile> = {}): OwnedFile => ({
  name: `${c}.bin`, size: 10 * createdAt, link: `shardfarm:r1:${c}:peer`, manifestId: c.repeat(64), ownerSeed: `seed-${c}`, policy: 'live', createdAt, ...extra
})

let home = ''
afterEach(async () => { await rm(home, { recursive: true, force: true }) })
async function fresh (): Promise<{ home: string, kv: FsKeyValueStore }> {
  home = await mkdtemp(join(tmpdir(), 'shardfarm-index-'))
  return { home, kv: new FsKeyValueStore(join(home, 'state')) }
}

describe('OwnerIndex on disk', () => {
  it('lists files oldest first, finds and forgets them, and keeps them across processes', async () => {
    const { kv } = await fresh()
    const index = new OwnerIndex(kv)
    for (const e of [entry('b', 2), entry('a', 3), entry('c', 1)]) await index.add(e)
    await index.add(entry('b', 2, { name: 'renamed.bin' })) // the same file again replaces its entry
    const again = new OwnerIndex(new FsKeyValueStore(kv.root))
    expect((await again.list()).map(f => f.name)).toEqual(['c.bin', 'renamed.bin', 'a.bin'])
    expect(await again.find('c'.repeat(64))).toEqual(entry('c', 1))
    await again.remove('a'.repeat(64))
    expect(await index.find('a'.repeat(64))).toBeUndefined()
    expect(await index.list()).toHaveLength(2)
  })

  it('keeps every entry when several processes add files at the same time', async () => {
    const { kv } = await fresh()
    // Separate stores over one directory, as separate `shardfarm put` processes have.
    const ids = '0123456789abcdef'.split('')
    await Promise.all(ids.map(async (c, i) => { await new OwnerIndex(new FsKeyValueStore(kv.root)).add(entry(c, i + 1)) }))
    expect((await new OwnerIndex(kv).list()).map(f => f.manifestId)).toEqual(ids.map(c => c.repeat(64)))
  })

  it('records repair copies once each, and knows nothing of files it does not hold', async () => {
    const { kv } = await fresh()
    const index = new OwnerIndex(kv)
    await index.add(entry('a', 1))
    const one = { id: 'f'.repeat(64), peer: 'peer-1' }
    const two = { id: 'e'.repeat(64), peer: 'peer-2' }
    // Two repairs finishing at once: neither's copies are lost.
    await Promise.all([index.addCopies('a'.repeat(64), [one]), index.addCopies('a'.repeat(64), [two])])
    expect((await index.find('a'.repeat(64)))?.copies).toEqual([one, two])
    expect(await index.addCopies('a'.repeat(64), [two, one])).toEqual({ ...entry('a', 1), copies: [one, two] })
    expect(await index.addCopies('b'.repeat(64), [one])).toBeUndefined()
    expect(await index.find('b'.repeat(64))).toBeUndefined()
  })

  it('leaves out an entry that is unreadable or filed under another id, and refuses to add a malformed one', async () => {
    const { kv } = await fresh()
    const index = new OwnerIndex(kv)
    await index.add(entry('a', 1))
    await kv.save(['files', 'b'.repeat(64)], new TextEncoder().encode('{"name":"torn'))
    await kv.save(['files', 'c'.repeat(64)], new TextEncoder().encode(JSON.stringify(entry('d', 4))))
    expect((await index.list()).map(f => f.name)).toEqual(['a.bin'])
    expect(await index.find('c'.repeat(64))).toBeUndefined()
    await expect(index.add({ ...entry('e', 5), size: -1 })).rejects.toThrow(TypeError)
  })
})

describe('importLegacyIndex (the CLI\'s index.json before the owner index)', () => {
  /** What the earlier `LocalIndex` wrote: one array, in the order files were put. */
  const legacy = [entry('b', 2), entry('a', 1, { copies: [{ id: 'f'.repeat(64), peer: 'peer-1' }] })]

  it('takes over every entry once, owner seeds and repair copies included, and sets the file aside', async () => {
    const { home, kv } = await fresh()
    const path = join(home, 'index.json')
    await writeFile(path, JSON.stringify([...legacy, { name: 'not an entry' }], null, 2))
    const index = new OwnerIndex(kv)
    await index.add(entry('b', 2, { copies: [{ id: 'e'.repeat(64), peer: 'peer-2' }] })) // already indexed: kept as it is
    expect(await importLegacyIndex(kv, path)).toBe(1)
    expect(await index.list()).toEqual([legacy[1], entry('b', 2, { copies: [{ id: 'e'.repeat(64), peer: 'peer-2' }] })])
    expect(await readdir(home)).toEqual(['index.json.imported', 'state'])
    expect(JSON.parse(await readFile(join(home, 'index.json.imported'), 'utf8'))).toHaveLength(3)

    // Forgetting an imported file lasts: the old file is not read again.
    await index.remove('a'.repeat(64))
    expect(await importLegacyIndex(kv, path)).toBe(0)
    expect((await index.list()).map(f => f.name)).toEqual(['b.bin'])
  })

  it('does nothing without an index.json, and leaves an unreadable one where it is', async () => {
    const { home, kv } = await fresh()
    const path = join(home, 'index.json')
    expect(await importLegacyIndex(kv, path)).toBe(0)
    await writeFile(path, '[{"name":"a.bin","si')
    await expect(importLegacyIndex(kv, path)).rejects.toThrow(SyntaxError)
    expect(await readdir(home)).toEqual(['index.json'])
    expect(await new OwnerIndex(kv).list()).toEqual([])
  })
})
