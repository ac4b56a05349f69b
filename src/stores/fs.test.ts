import { execFileSync, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { UNLEASED } from '../core/fragment-store.ts'
import type { FragmentId } from '../core/fragment-store.ts'
import { fragment, runFragmentStoreTests } from './conformance.ts'
import { FsFragmentStore } from './fs.ts'
import { CLAIMS_SUFFIX, encodeHeader, HEADER_SIZE } from './fs-format.ts'

const KiB = 1024
const fileOf = (dir: string, id: FragmentId): string => join(dir, 'fragments', id.slice(0, 2), id)

async function flipByte (file: string, offset: number): Promise<void> {
  const bytes = await readFile(file)
  bytes[offset] = (bytes[offset] ?? 0) ^ 0x40
  await writeFile(file, bytes)
}

runFragmentStoreTests('FsFragmentStore', async ({ quota }) => {
  const dir = await mkdtemp(join(tmpdir(), 'shardfarm-fs-'))
  const store = await FsFragmentStore.open(dir, { quota })
  return {
    store,
    cleanup: async () => { await store.close(); await rm(dir, { recursive: true, force: true }) },
    corrupt: async id => { await flipByte(fileOf(dir, id), HEADER_SIZE) }
  }
})

/** Mounting a tmpfs is the honest way to get a real ENOSPC; it needs root on Linux. */
function canMountTmpfs (): boolean {
  if (process.platform !== 'linux') return false
  const dir = mkdtempSync(join(tmpdir(), 'shardfarm-probe-'))
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir], { stdio: 'ignore' })
    execFileSync('umount', [dir], { stdio: 'ignore' })
    return true
  } catch {
    return false
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

describe('FsFragmentStore on a real disk', () => {
  let dir = ''
  afterEach(async () => { await rm(dir, { recursive: true, force: true }) })
  const fresh = async (): Promise<string> => (dir = await mkdtemp(join(tmpdir(), 'shardfarm-fs-')))

  it('keeps fragments, claims and totals across close and reopen', async () => {
    await fresh()
    const owner = Buffer.alloc(32, 7).toString('base64')
    const claims = [{ owner, peer: '12D3KooWpeer', expiresAt: 1_900_000_000_000 }]
    const frags = await Promise.all([1, 5000, 70_000].map(fragment))
    const first = await FsFragmentStore.open(dir, { quota: 1024 * KiB })
    for (const f of frags) await first.put(f.id, f.bytes, { claims })
    await first.close()
    const second = await FsFragmentStore.open(dir, { quota: 1024 * KiB })
    expect(await second.stat()).toEqual({ capacity: 1024 * KiB, used: 75_001, free: 1024 * KiB - 75_001, count: 3 })
    for (const f of frags) {
      expect(Buffer.from(await second.get(f.id)).equals(f.bytes)).toBe(true)
      expect((await second.meta(f.id))?.claims).toEqual(claims)
    }
    await second.close()
  })

  it('reads a fragment of the single-owner format as one claim, and drops a claims file left without its fragment', async () => {
    await fresh()
    const owner = Buffer.alloc(32, 3).toString('base64')
    const [old, orphan] = [await fragment(KiB), await fragment(KiB)]
    await (await FsFragmentStore.open(dir)).close()
    // What the previous version wrote: the owner in the header, no claims file.
    await writeFile(fileOf(dir, old.id), Buffer.concat([encodeHeader({ owner, storedAt: 1_700_000_000_000 }, KiB), old.bytes]))
    await writeFile(fileOf(dir, orphan.id) + CLAIMS_SUFFIX, 'left by a crash between the renames')
    const store = await FsFragmentStore.open(dir)
    expect(await store.meta(old.id)).toEqual({ claims: [{ owner, peer: '', expiresAt: UNLEASED }], storedAt: 1_700_000_000_000, size: KiB })
    expect(await readdir(join(dir, 'fragments', orphan.id.slice(0, 2)))).not.toContain(orphan.id + CLAIMS_SUFFIX)
    // Its first claim change writes the new format, which the next open reads.
    await store.updateClaims(old.id, claims => claims.map(c => ({ ...c, expiresAt: 5 })))
    await store.close()
    const again = await FsFragmentStore.open(dir)
    expect((await again.meta(old.id))?.claims).toEqual([{ owner, peer: '', expiresAt: 5 }])
    expect(Buffer.from(await again.get(old.id)).equals(old.bytes)).toBe(true)
    await again.close()
  })

  it('makes all 256 fan-out directories at open, and still stores into one removed since', async () => {
    await fresh()
    const store = await FsFragmentStore.open(dir)
    const fan = await readdir(join(dir, 'fragments'))
    expect(fan).toHaveLength(256)
    expect(fan).toContain('00')
    expect(fan).toContain('ff')
    const f = await fragment(4096)
    await rm(join(dir, 'fragments', f.id.slice(0, 2)), { recursive: true })
    await store.put(f.id, f.bytes)
    expect(Buffer.from(await store.get(f.id)).equals(f.bytes)).toBe(true)
    expect(await readdir(join(dir, 'fragments', f.id.slice(0, 2)))).toEqual([f.id, f.id + CLAIMS_SUFFIX])
    await store.close()
  })

  it('deletes a dead writer\'s temp file at open and quarantines unsound files', async () => {
    await fresh()
    const good = await fragment(KiB)
    const half = await fragment(8 * KiB)
    const store = await FsFragmentStore.open(dir)
    await store.put(good.id, good.bytes)
    await store.close()
    // What a writer killed mid-write leaves: a partial temp file named after a valid id.
    await writeFile(join(dir, 'tmp', `${half.id}.dead-writer`), half.bytes.subarray(0, 3000))
    // And what no correct writer leaves, but a bad disk or a careless hand can.
    const good2 = await fragment(KiB)
    const full = Buffer.from(await readFile(fileOf(dir, good.id)))
    await mkdir(join(dir, 'fragments', half.id.slice(0, 2)), { recursive: true })
    await writeFile(fileOf(dir, half.id), full.subarray(0, 100)) // truncated, under a valid id
    await writeFile(join(dir, 'fragments', good.id.slice(0, 2), 'not-an-id'), 'x')
    await mkdir(join(dir, 'fragments', 'zz'))
    await mkdir(join(dir, 'fragments', good2.id.slice(0, 2)), { recursive: true })
    await writeFile(fileOf(dir, good2.id), full) // a sound file, but not these bytes' id: caught on read

    const reopened = await FsFragmentStore.open(dir)
    expect(await readdir(join(dir, 'tmp'))).toEqual([])
    expect(await readdir(join(dir, 'quarantine'))).toHaveLength(3)
    expect(await reopened.has([good.id, half.id, good2.id])).toEqual([true, false, true])
    expect(await reopened.stat()).toMatchObject({ used: 2 * KiB, count: 2 })
    expect(await reopened.get(good2.id).catch((e: Error) => e.name)).toBe('CorruptFragmentError')
    expect(await reopened.stat()).toMatchObject({ used: KiB, count: 1 })
    await reopened.close()
  })

  it('quarantines a fragment whose bytes rot on disk, and a claims file with a flipped bit (its claims are not trusted)', async () => {
    await fresh()
    const [rot, owned] = [await fragment(4 * KiB), await fragment(KiB)]
    const store = await FsFragmentStore.open(dir)
    await store.put(rot.id, rot.bytes)
    await store.put(owned.id, owned.bytes, { claims: [{ owner: Buffer.alloc(32, 1).toString('base64'), peer: 'p', expiresAt: 9 }] })
    await flipByte(fileOf(dir, rot.id), HEADER_SIZE + 1234)
    await flipByte(fileOf(dir, owned.id) + CLAIMS_SUFFIX, 20) // inside the owner key
    expect(await store.get(rot.id).catch((e: { code: string }) => e.code)).toBe('CORRUPT_FRAGMENT')
    expect(await store.has([rot.id, owned.id])).toEqual([false, true])
    expect(await readdir(join(dir, 'quarantine'))).toHaveLength(1)
    await store.close()
    const reopened = await FsFragmentStore.open(dir)
    expect(await reopened.stat()).toMatchObject({ used: KiB, count: 1 })
    expect((await reopened.meta(owned.id))?.claims).toEqual([]) // nobody's: the farmer's collector removes it
    expect(await readdir(join(dir, 'quarantine'))).toHaveLength(2)
    await reopened.close()
  })

  it('survives SIGKILL mid-put: every file present is whole, totals match, acknowledged puts kept', async () => {
    await fresh()
    const child = spawn(process.execPath, ['--no-warnings', join(import.meta.dirname, '..', '..', 'test', 'support', 'put-loop.ts'), dir],
      { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => { out += chunk })
    const exited = new Promise(resolve => child.once('exit', (_code, signal) => { resolve(signal) }))
    await expect.poll(() => out.includes('ready\n'), { timeout: 20_000 }).toBe(true)
    // Kill once a few puts are acknowledged (so there is something to keep), at a random point of
    // the writers' next ones: waiting on output, not a fixed delay, holds on a loaded machine too.
    await expect.poll(() => (out.match(/^stored /gm) ?? []).length, { timeout: 30_000 }).toBeGreaterThanOrEqual(3)
    await new Promise(resolve => setTimeout(resolve, Math.random() * 50))
    child.kill('SIGKILL')
    expect(await exited).toBe('SIGKILL')

    const acknowledged = [...out.matchAll(/^stored ([0-9a-f]{64}) (\d+)$/gm)].map(m => m[1]!)
    expect(acknowledged.length).toBeGreaterThan(0)
    const store = await FsFragmentStore.open(dir, { quota: 1024 ** 3 })
    // Nothing half-written under a valid id: the scan had nothing to quarantine.
    expect(await readdir(join(dir, 'quarantine'))).toEqual([])
    expect(await readdir(join(dir, 'tmp'))).toEqual([])
    const ids = (await readdir(join(dir, 'fragments'), { recursive: true })).map(p => p.split(/[\\/]/)).flatMap(p => p.length === 2 && !p[1]!.endsWith(CLAIMS_SUFFIX) ? [p[1]!] : [])
    let used = 0
    for (const id of ids) used += (await store.get(id)).byteLength // get re-hashes every one
    expect(await store.stat()).toMatchObject({ used, count: ids.length })
    expect(await store.has(acknowledged)).toEqual(acknowledged.map(() => true))
    await store.close()
  })

  it.skipIf(!canMountTmpfs())('turns a full disk into DISK_FULL with no temp file left (skipped unless root may mount a tmpfs)', async () => {
    await fresh()
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', dir])
    try {
      const store = await FsFragmentStore.open(dir, { quota: 100 * 1024 * KiB }) // the quota is not what stops us
      const stored: { id: string, bytes: Uint8Array }[] = []
      let failure: { name?: string, code?: string } | undefined
      while (failure === undefined && stored.length < 100) {
        const f = await fragment(48 * KiB)
        await store.put(f.id, f.bytes).then(() => stored.push(f), (err: { name: string, code: string }) => { failure = err })
      }
      expect(failure).toMatchObject({ name: 'DiskFullError', code: 'DISK_FULL' })
      expect(stored.length).toBeGreaterThan(0)
      expect(await readdir(join(dir, 'tmp'))).toEqual([])
      expect(await store.stat()).toMatchObject({ used: stored.length * 48 * KiB, count: stored.length })
      for (const f of stored) expect(Buffer.from(await store.get(f.id)).equals(f.bytes)).toBe(true)
      // Freeing room makes the store writable again.
      await store.delete(stored[0]!.id)
      const small = await fragment(KiB)
      await store.put(small.id, small.bytes)
      expect(await store.has([small.id])).toEqual([true])
      await store.close()
    } finally {
      execFileSync('umount', [dir])
    }
  })
})
