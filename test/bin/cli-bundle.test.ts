// The launcher's choice between the bundled CLI and the sources (bin/cli-bundle.js), on a fake
// tree in a temp dir: a bundle is used only while every source it lists is exactly as it was.
import { mkdir, mkdtemp, rm, stat, utimes, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
// @ts-expect-error plain JavaScript without declarations (it runs before any TypeScript loads)
import { BUNDLED_COMMANDS, freshBundle } from '../../bin/cli-bundle.js'
import { FILE_COMMANDS } from '../../src/cli/dispatch.ts'

type Fresh = (root: string, dir?: string, why?: (r: string) => void) => string | undefined
const fresh = freshBundle as Fresh

let root = ''
const dir = (): string => join(root, 'dist-cli')
async function stampOf (paths: string[]): Promise<void> {
  const files = await Promise.all(paths.map(async p => { const s = await stat(join(root, p)); return { path: p, size: s.size, mtimeMs: s.mtimeMs } }))
  await writeFile(join(dir(), 'stamp.json'), JSON.stringify({ files }))
}
function reason (): { why: (r: string) => void, said: () => string } {
  let said = ''
  return { why: r => { said = r }, said: () => said }
}

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'shardfarm-bundle-'))
  await mkdir(join(root, 'src'))
  await mkdir(dir())
  await writeFile(join(root, 'src', 'a.ts'), 'export const a = 1\n')
  await writeFile(join(root, 'package-lock.json'), '{}\n')
  await writeFile(join(dir(), 'shardfarm.js'), '')
})
afterEach(async () => { await rm(root, { recursive: true, force: true }) })

describe('freshBundle', () => {
  it('serves the file commands only, every one of them', () => {
    expect([...BUNDLED_COMMANDS as Set<string>].sort()).toEqual(Object.keys(FILE_COMMANDS).sort())
    expect([...BUNDLED_COMMANDS as Set<string>].sort()).toEqual(['check', 'get', 'link', 'ls', 'put', 'renew', 'repair', 'rm', 'stat'])
  })

  it('uses a bundle whose sources are unchanged', async () => {
    await stampOf(['src/a.ts', 'package-lock.json'])
    expect(fresh(root)).toBe(join(dir(), 'shardfarm.js'))
  })

  it('falls back to the sources when a listed file was edited, even to the same size', async () => {
    await stampOf(['src/a.ts', 'package-lock.json'])
    await writeFile(join(root, 'src', 'a.ts'), 'export const b = 2\n')
    const r = reason()
    expect(fresh(root, undefined, r.why)).toBeUndefined()
    expect(r.said()).toBe('src/a.ts changed since the bundle was built')
  })

  it('falls back when only the mtime moved (a checkout), or a dependency update touched the lockfile', async () => {
    await stampOf(['src/a.ts', 'package-lock.json'])
    const later = new Date(Date.now() + 5000)
    await utimes(join(root, 'package-lock.json'), later, later)
    const r = reason()
    expect(fresh(root, undefined, r.why)).toBeUndefined()
    expect(r.said()).toBe('package-lock.json changed since the bundle was built')
  })

  it('falls back when a listed file is gone, when there is no stamp, or when the stamp is empty', async () => {
    await stampOf(['src/a.ts'])
    await rm(join(root, 'src', 'a.ts'))
    const r = reason()
    expect(fresh(root, undefined, r.why)).toBeUndefined()
    expect(r.said()).toBe('src/a.ts is gone')

    await rm(join(dir(), 'stamp.json'))
    expect(fresh(root, undefined, r.why)).toBeUndefined()
    expect(r.said()).toMatch(/no bundle/)

    await writeFile(join(dir(), 'stamp.json'), JSON.stringify({ files: [] }))
    expect(fresh(root, undefined, r.why)).toBeUndefined()
    expect(r.said()).toMatch(/lists no sources/)

    await writeFile(join(dir(), 'stamp.json'), JSON.stringify({ files: [{ path: 'src/a.ts' }] }))
    expect(fresh(root, undefined, r.why)).toBeUndefined()
    expect(r.said()).toMatch(/malformed/)
  })
})
