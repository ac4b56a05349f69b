// `shardfarm get` of a file whose name the sharer chose to hurt: a `.bashrc` fetched where the
// person keeps their own, names carrying terminal escape sequences and bidi overrides. The real
// CLI against a fresh local grid (relay + 6 farmer processes); the CLI runs in `g.work`, so that
// directory plays the person's home.
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CliGrid, sha256File, writeRandomFile } from './cli-grid.ts'

const g = new CliGrid()
/** The sharer's files, put from here so that their names become the manifests' names. */
let share = ''
const MINE_DOT = 'export PATH=~/bin:$PATH # the person\'s own .bashrc\n'
const MINE_PLAIN = 'a file the person named bashrc\n'
const REFUSAL = /already exists; pass -o FILE to save it under another name, or --force to replace it/
const RAW_CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/ // eslint-disable-line no-control-regex

beforeAll(async () => {
  await g.start(6)
  share = join(g.grid.root, 'share')
  await mkdir(share)
})
afterAll(async () => { await g.destroy() })

/** Puts a file named `name` holding `size` random bytes; its link and digest. */
async function shared (name: string, size = 1000): Promise<{ link: string, digest: string }> {
  const digest = await writeRandomFile(join(share, name), size)
  return { link: (await g.put(join(share, name))).link, digest }
}

const inHome = (name: string): string => join(g.work, name)
const partials = async (): Promise<string[]> => (await readdir(g.work)).filter(n => n.endsWith('.shardfarm-partial'))

describe('get without -o', () => {
  let bashrc = { link: '', digest: '' }
  beforeAll(async () => { bashrc = await shared('.bashrc') })

  it('never replaces a file: a shared .bashrc where .bashrc and bashrc exist is refused, exit 2, both left byte-identical', async () => {
    await writeFile(inHome('.bashrc'), MINE_DOT)
    await writeFile(inHome('bashrc'), MINE_PLAIN)
    const before = (await readdir(g.work)).sort()

    const got = await g.cli(['get', bashrc.link])
    expect(got.code, got.stderr).toBe(2)
    expect(got.stderr).toContain('the file was shared as ".bashrc"; saving it as bashrc')
    expect(got.stderr).toMatch(new RegExp(`shardfarm: bashrc ${REFUSAL.source}`))
    expect(await readFile(inHome('.bashrc'), 'utf8')).toBe(MINE_DOT)
    expect(await readFile(inHome('bashrc'), 'utf8')).toBe(MINE_PLAIN)
    expect((await readdir(g.work)).sort()).toEqual(before) // no partial file, nothing new
  })

  it('saves a shared .bashrc as bashrc, never as a dotfile, and leaves .bashrc alone', async () => {
    await writeFile(inHome('.bashrc'), MINE_DOT)
    await rm(inHome('bashrc'), { force: true })
    const got = await g.cli(['get', bashrc.link])
    expect(got.code, got.stderr).toBe(0)
    expect(got.stderr).toContain('bashrc: 1000 bytes')
    expect(await sha256File(inHome('bashrc'))).toBe(bashrc.digest)
    expect(await readFile(inHome('.bashrc'), 'utf8')).toBe(MINE_DOT)
    expect(await partials()).toEqual([])
  })

  it('--force replaces the file on purpose', async () => {
    await writeFile(inHome('.bashrc'), MINE_DOT)
    await writeFile(inHome('bashrc'), MINE_PLAIN)
    const got = await g.cli(['get', bashrc.link, '--force'])
    expect(got.code, got.stderr).toBe(0)
    expect(await sha256File(inHome('bashrc'))).toBe(bashrc.digest)
    expect(await readFile(inHome('.bashrc'), 'utf8')).toBe(MINE_DOT)
    expect(await partials()).toEqual([])
  })

  it('a name with escape sequences or a bidi override reaches neither the file system nor the terminal raw', async () => {
    const evil = await shared('a\x1b]0;pwned\x07\x1b[2Jb.txt')
    const got = await g.cli(['get', evil.link])
    expect(got.code, got.stderr).toBe(0)
    expect(got.stderr).not.toMatch(RAW_CONTROL)
    expect(got.stderr).toContain('shared as "a\\x1b]0;pwned\\x07\\x1b[2Jb.txt"; saving it as a]0;pwned[2Jb.txt')
    expect(await sha256File(inHome('a]0;pwned[2Jb.txt'))).toBe(evil.digest)

    const spoof = await shared('invoice\u202Efdp.exe')
    const spoofed = await g.cli(['get', spoof.link])
    expect(spoofed.code, spoofed.stderr).toBe(0)
    expect(spoofed.stderr).not.toMatch(RAW_CONTROL)
    expect(spoofed.stderr).toContain('shared as "invoice\\u{202e}fdp.exe"; saving it as invoicefdp.exe')
    expect(await sha256File(inHome('invoicefdp.exe'))).toBe(spoof.digest)

    // stat prints the shared name too: escaped there as well.
    const stat = await g.cli(['stat', evil.link])
    expect(stat.code, stat.stderr).toBe(0)
    expect(stat.out).not.toMatch(RAW_CONTROL)
    expect(stat.out).toContain('a\\x1b]0;pwned\\x07\\x1b[2Jb.txt')
  })
})

describe('get -o FILE', () => {
  let file = { link: '', digest: '' }
  beforeAll(async () => { file = await shared('report.bin') })

  it('refuses an existing FILE (exit 2, the file byte-identical) unless --force', async () => {
    const out = inHome('mine.txt')
    await writeFile(out, MINE_PLAIN)
    const refused = await g.cli(['get', file.link, '-o', out])
    expect(refused.code, refused.stderr).toBe(2)
    expect(refused.stderr).toContain(`shardfarm: ${out} already exists`)
    expect(refused.stderr).toMatch(REFUSAL)
    expect(await readFile(out, 'utf8')).toBe(MINE_PLAIN)
    expect(await partials()).toEqual([])

    const forced = await g.cli(['get', file.link, '-o', out, '--force'])
    expect(forced.code, forced.stderr).toBe(0)
    expect(await sha256File(out)).toBe(file.digest)
  })

  it('quotes a FILE with control characters escaped, in a refusal and in an error of the file system', async () => {
    const out = inHome('x\x1b[31mred')
    await writeFile(out, MINE_PLAIN)
    const refused = await g.cli(['get', file.link, '-o', out])
    expect(refused.code).toBe(2)
    expect(refused.stderr).not.toMatch(RAW_CONTROL)
    expect(refused.stderr).toContain('x\\x1b[31mred already exists')
    expect(await readFile(out, 'utf8')).toBe(MINE_PLAIN)

    const failed = await g.cli(['get', file.link, '-o', inHome('no\x1b[2Jdir/out.bin')])
    expect(failed.code).toBe(1)
    expect(failed.stderr).toContain('ENOENT')
    expect(failed.stderr).not.toMatch(RAW_CONTROL)
    expect(failed.stderr).toContain('no\\x1b[2Jdir/out.bin.shardfarm-partial')
  })
})
