import { describe, expect, it } from 'vitest'
import { MAX_NAME_BYTES, safeFileName, terminalSafe } from './safe-name.ts'

const FALLBACK = '0123456789abcdef'
const name = (s: string, windows = false): string => safeFileName(s, FALLBACK, { windows })
const bytes = (s: string): number => Buffer.byteLength(s, 'utf8')
/** What a terminal could obey or reorder: C0, DEL, C1, bidi controls, line separators, lone surrogates. */
const RAW_UNSAFE = /[\p{Cc}\p{Cs}\u061C\u200E\u200F\u2028\u2029\u202A-\u202E\u2066-\u2069]/u

const HOSTILE = [
  '../../etc/passwd', '..\\..\\Windows\\win.ini', '/etc/shadow', '.bashrc', '..', '.', '', '/', '//', 'dir/..',
  'a\x1b]0;pwned\x07b', '\x1b[2J\x1b[H', 'x\u202Egnp.exe', 'a\u2066b\u2069c', 'a\u009bb', 'a\x7fb', 'a\x00b',
  'a\uD800b', ' \u00a0.profile', '.\u200E.bashrc', '-rf', 'é'.repeat(300), 'a'.repeat(1000), '\n\r\t'
]

describe('safeFileName', () => {
  it('keeps the last path component only, with either separator', () => {
    expect(name('../../etc/passwd')).toBe('passwd')
    expect(name('..\\..\\Windows\\win.ini')).toBe('win.ini')
    expect(name('/etc/shadow')).toBe('shadow')
    expect(name('photos/')).toBe('photos')
  })

  it('never makes a hidden file: leading dots and blanks go', () => {
    expect(name('.bashrc')).toBe('bashrc')
    expect(name('...ssh')).toBe('ssh')
    expect(name(' \u00a0.profile ')).toBe('profile')
    expect(name('.\u200E.bashrc')).toBe('bashrc') // a bidi mark between the dots does not hide one
  })

  it('drops control characters and bidi controls', () => {
    expect(name('a\x1b]0;pwned\x07b')).toBe('a]0;pwnedb')
    expect(name('x\u202Egnp.exe')).toBe('xgnp.exe')
    expect(name('a\u2066b\u2069c\u200Fd')).toBe('abcd')
    expect(name('a\u009bb\x7fc\x00d')).toBe('abcd')
    expect(name('a\uD800b')).toBe('ab')
  })

  it('falls back to the given name when nothing is left', () => {
    for (const s of ['', '.', '..', '/', '//', 'dir/..', '\x1b\x07', ' . ', '\u202E']) expect(name(s), JSON.stringify(s)).toBe(FALLBACK)
  })

  it('puts _ before a leading dash, so the name is not read as an option', () => {
    expect(name('-rf')).toBe('_-rf')
    expect(name('--help.txt')).toBe('_--help.txt')
  })

  it(`cuts long names to ${MAX_NAME_BYTES} bytes between characters, keeping a short extension`, () => {
    const long = name('a'.repeat(1000) + '.pdf')
    expect(bytes(long)).toBe(MAX_NAME_BYTES)
    expect(long).toMatch(/^a+\.pdf$/)

    expect(name('é'.repeat(300))).toBe('é'.repeat(100)) // 2 bytes each
    expect(name('e\u0301'.repeat(100))).toBe('e\u0301'.repeat(66)) // 3 bytes each: the 67th e would lose its accent

    const family = '👩‍👩‍👧' // one grapheme of 18 bytes (three emoji joined): cut whole or not at all
    expect(name('0123456789' + family.repeat(20))).toBe('0123456789' + family.repeat(10))

    const zalgo = name('a' + '\u0301'.repeat(300) + 'b') // one grapheme longer than the limit: cut between code points
    expect(zalgo.startsWith('a\u0301')).toBe(true)
    expect(bytes(zalgo)).toBeLessThanOrEqual(MAX_NAME_BYTES)
    expect(Buffer.from(zalgo, 'utf8').toString('utf8')).toBe(zalgo)
  })

  it('leaves ordinary names as they are', () => {
    for (const s of ['report 2024.pdf', 'résumé.txt', '日本語のファイル.txt', 'a..b', 'archive.tar.gz', 'a:b', 'nul.txt', 'x' + '.'.repeat(3)]) {
      expect(name(s)).toBe(s)
    }
  })

  it('on Windows, also avoids its forbidden characters, device names and trailing dots', () => {
    expect(name('a:b<c>d|e?f*g"h', true)).toBe('a_b_c_d_e_f_g_h')
    expect(name('CON', true)).toBe('_CON')
    expect(name('nul.txt', true)).toBe('_nul.txt')
    expect(name('com1', true)).toBe('_com1')
    expect(name('console.log', true)).toBe('console.log')
    expect(name('notes. . ', true)).toBe('notes')
    expect(name('...', true)).toBe(FALLBACK)
  })

  it('whatever the name, returns one plain, visible, short file name', () => {
    for (const windows of [false, true]) {
      for (const s of HOSTILE) {
        const out = name(s, windows)
        const what = `${JSON.stringify(s)} → ${JSON.stringify(out)}`
        expect(out, what).not.toMatch(/[/\\]/)
        expect(out, what).not.toMatch(/^[.\s-]/)
        expect(out, what).not.toMatch(RAW_UNSAFE)
        expect(out, what).not.toBe('')
        expect(bytes(out), what).toBeLessThanOrEqual(MAX_NAME_BYTES)
      }
    }
  })
})

describe('terminalSafe', () => {
  it('escapes control characters and bidi controls, and nothing else', () => {
    expect(terminalSafe('a\x1b]0;pwned\x07b')).toBe('a\\x1b]0;pwned\\x07b')
    expect(terminalSafe('x\u202Egnp.exe')).toBe('x\\u{202e}gnp.exe')
    expect(terminalSafe('line\nfeed\r\x00\x7f\u009b')).toBe('line\\x0afeed\\x0d\\x00\\x7f\\x9b')
    expect(terminalSafe('a\u2066b\u2028c\uD800')).toBe('a\\u{2066}b\\u{2028}c\\u{d800}')
    const plain = 'résumé 日本語 👩‍👩‍👧 a\\b "q" ~/x.txt'
    expect(terminalSafe(plain)).toBe(plain)
  })

  it('lets no character a terminal would obey through, and escaping again changes nothing', () => {
    let all = ''
    for (let cp = 0; cp < 0x3000; cp++) all += String.fromCodePoint(cp)
    const once = terminalSafe(all + '\uDC00')
    expect(once).not.toMatch(RAW_UNSAFE)
    expect(terminalSafe(once)).toBe(once)
  })
})
