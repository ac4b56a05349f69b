import * as fsp from 'node:fs/promises'
import { lstat, mkdir, mkdtemp, readFile, readdir, readlink, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { codeOf, exitCodeOf } from '../core/error-catalogue.ts'
import { openPartial, partialPath, placeFile, refuseExisting, TargetExistsError } from './download-target.ts'

/** Set by a test to make `link` fail as on a file system without hard links. */
const noHardLinks = vi.hoisted(() => ({ on: false }))
vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs/promises')>()
  return {
    ...real,
    link: async (from: string, to: string): Promise<void> => {
      if (noHardLinks.on) throw Object.assign(new Error('EPERM: operation not permitted, link'), { code: 'EPERM' })
      await real.link(from, to)
    }
  }
})

let dir = ''
beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'shardfarm-target-')) })
afterEach(async () => { noHardLinks.on = false; await rm(dir, { recursive: true, force: true }) })

/** Writes `bytes` to the partial file of `target` the way `get` does, and closes it. */
async function download (target: string, bytes: string): Promise<string> {
  const partial = partialPath(target)
  const sink = await openPartial(partial)
  await sink.write(new TextEncoder().encode(bytes))
  await sink.close()
  return partial
}

describe('refuseExisting', () => {
  it('passes a free name and refuses a file, a directory and a dangling symlink', async () => {
    await refuseExisting(join(dir, 'free'))
    await writeFile(join(dir, 'file'), 'x')
    await mkdir(join(dir, 'sub'))
    await symlink(join(dir, 'nowhere'), join(dir, 'dangling'))
    for (const taken of ['file', 'sub', 'dangling']) {
      await expect(refuseExisting(join(dir, taken))).rejects.toMatchObject({ name: 'TargetExistsError', code: 'TARGET_EXISTS' })
    }
  })

  it('says which path and what to do, escaped, and exits 2', () => {
    const err = new TargetExistsError('evil\x1b]0;pwned\x07.txt')
    expect(err.message).toBe('evil\\x1b]0;pwned\\x07.txt already exists; pass -o FILE to save it under another name, or --force to replace it')
    expect(codeOf(err)).toBe('TARGET_EXISTS')
    expect(exitCodeOf(err)).toBe(2)
  })
})

describe('placeFile', () => {
  it('gives the download its name and removes the partial file', async () => {
    const target = join(dir, 'out.bin')
    const partial = await download(target, 'downloaded')
    await placeFile(partial, target)
    expect(await readFile(target, 'utf8')).toBe('downloaded')
    expect(await readdir(dir)).toEqual(['out.bin'])
  })

  it('never replaces a file that appeared during the download', async () => {
    const target = join(dir, 'out.bin')
    await refuseExisting(target) // free when the download starts…
    const partial = await download(target, 'downloaded')
    await writeFile(target, 'mine') // …taken by the time it ends
    await expect(placeFile(partial, target)).rejects.toMatchObject({ name: 'TargetExistsError' })
    expect(await readFile(target, 'utf8')).toBe('mine')
  })

  it('does not write through a symlink at the name', async () => {
    const victim = join(dir, 'victim')
    await writeFile(victim, 'mine')
    const target = join(dir, 'out.bin')
    await symlink(victim, target)
    const partial = await download(target, 'downloaded')
    await expect(placeFile(partial, target)).rejects.toMatchObject({ name: 'TargetExistsError' })
    expect(await readFile(victim, 'utf8')).toBe('mine')
    expect(await readlink(target)).toBe(victim)
  })

  it('with force, replaces the file, and a symlink itself rather than what it points to', async () => {
    const target = join(dir, 'out.bin')
    await writeFile(target, 'mine')
    await placeFile(await download(target, 'downloaded'), target, { force: true })
    expect(await readFile(target, 'utf8')).toBe('downloaded')

    const victim = join(dir, 'victim')
    await writeFile(victim, 'mine')
    const link = join(dir, 'link.bin')
    await symlink(victim, link)
    await placeFile(await download(link, 'downloaded'), link, { force: true })
    expect((await lstat(link)).isFile()).toBe(true)
    expect(await readFile(victim, 'utf8')).toBe('mine')
  })

  it('without hard links, still creates the name exclusively', async () => {
    noHardLinks.on = true
    const target = join(dir, 'out.bin')
    await placeFile(await download(target, 'downloaded'), target)
    expect(await readFile(target, 'utf8')).toBe('downloaded')
    expect(await readdir(dir)).toEqual(['out.bin'])

    const partial = await download(target, 'again')
    await expect(placeFile(partial, target)).rejects.toMatchObject({ name: 'TargetExistsError' })
    expect(await readFile(target, 'utf8')).toBe('downloaded')
    await expect(fsp.link(partial, join(dir, 'x'))).rejects.toMatchObject({ code: 'EPERM' }) // the mock was in effect
  })
})

describe('openPartial', () => {
  it('removes a symlink at the partial name instead of writing through it', async () => {
    const victim = join(dir, 'victim')
    await writeFile(victim, 'mine')
    const target = join(dir, 'out.bin')
    await symlink(victim, partialPath(target))
    await placeFile(await download(target, 'downloaded'), target)
    expect(await readFile(victim, 'utf8')).toBe('mine')
    expect(await readFile(target, 'utf8')).toBe('downloaded')
  })
})
