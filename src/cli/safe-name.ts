/**
 * Names from a manifest, made safe for this machine. Whoever shares a file writes its manifest, so
 * its `name` is the sharer's choice, hostile or not: a path (`../../.ssh/config`), a dotfile the
 * shell reads at login (`.bashrc`), escape sequences a terminal obeys (`\x1b]0;…\x07` retitles
 * the window; others move the cursor and rewrite what is on screen), or a bidi override that shows
 * `\u202Egnp.exe` as `exe.png`. `safeFileName` makes a local file name of it, `terminalSafe` a
 * line for the terminal.
 */

/**
 * Longest name `safeFileName` returns, in UTF-8 bytes. File systems allow 255; this leaves room for
 * the `.shardfarm-partial` suffix the download is written under first.
 */
export const MAX_NAME_BYTES = 200

/**
 * Characters a name never keeps and a terminal never sees raw: C0, DEL and C1 (`\p{Cc}`), the bidi
 * marks, embeddings, overrides and isolates, the line and paragraph separators, and lone surrogates
 * (which no file system or terminal encoding can carry).
 */
const UNSAFE = '\\p{Cc}\\p{Cs}\\u061C\\u200E\\u200F\\u2028\\u2029\\u202A-\\u202E\\u2066-\\u2069'
const UNSAFE_CHAR = new RegExp(`[${UNSAFE}]`, 'gu')
/** Blanks and dots at the start (a hidden file; `.` and `..`), blanks at the end. */
const EDGES = /^[\s.]+|\s+$/gu
/** Characters Windows refuses in a name (`:` would also open an NTFS alternate data stream). */
const WINDOWS_FORBIDDEN = /[<>:"|?*]/g
/** Device names Windows opens instead of a file, with any extension: `NUL.txt` is the null device. */
const WINDOWS_DEVICE = /^(?:con|prn|aux|nul|conin\$|conout\$|com[0-9¹²³]|lpt[0-9¹²³])(?:\.|$)/i
/** An extension kept when a long name is shortened: a dot and up to 16 characters, no blank. */
const EXTENSION = /\.[^.\s]{1,16}$/u

const encoder = new TextEncoder()
const utf8Bytes = (s: string): number => encoder.encode(s).length
const graphemes = new Intl.Segmenter(undefined, { granularity: 'grapheme' })

/** Options of `safeFileName`. */
export interface SafeNameOptions {
  /**
   * Also avoid what Windows refuses or reads specially: `< > : " | ? *`, device names (`CON`,
   * `NUL.txt`, `COM1`…) and trailing dots and blanks, which Windows drops.
   * @default process.platform === 'win32'
   */
  windows?: boolean
}

/**
 * A local file name for `name`, a file name chosen by someone else, to be created in the current
 * directory:
 * - the last path component only, with `/` and `\` both taken as separators;
 * - without the characters of `UNSAFE_CHAR` (control characters, bidi controls);
 * - without leading dots or blanks, so never a hidden file (`.bashrc` → `bashrc`), nor trailing
 *   blanks;
 * - `_` before a leading `-`, so that `rm *` in that directory does not read it as an option;
 * - at most `MAX_NAME_BYTES` bytes of UTF-8, cut between characters (between graphemes where one
 *   fits), keeping a short extension;
 * - `fallback` when nothing is left (`''`, `.`, `..`, only control characters).
 */
export function safeFileName (name: string, fallback: string, opts: SafeNameOptions = {}): string {
  const windows = opts.windows ?? process.platform === 'win32'
  const stripped = String(name).replace(UNSAFE_CHAR, '')
  let s = stripped.split(/[/\\]/).filter(part => part !== '').at(-1) ?? ''
  if (windows) s = s.replace(WINDOWS_FORBIDDEN, '_')
  s = s.replace(EDGES, '')
  if (windows) s = s.replace(/[. ]+$/, '')
  if (s === '') return fallback
  if (s.startsWith('-') || (windows && WINDOWS_DEVICE.test(s))) s = '_' + s
  return shorten(s, MAX_NAME_BYTES)
}

/** `s` cut to `max` UTF-8 bytes, keeping its extension when it has a short one. */
function shorten (s: string, max: number): string {
  if (utf8Bytes(s) <= max) return s
  const ext = EXTENSION.exec(s)?.[0] ?? ''
  const stem = fit(s.slice(0, s.length - ext.length), max - utf8Bytes(ext))
  return stem !== '' ? stem + ext : fit(s, max)
}

/**
 * The longest start of `s` within `max` bytes that ends between graphemes, so an accent or an
 * emoji sequence is not split; when even the first grapheme is longer (a letter under hundreds of
 * combining marks), between code points.
 */
function fit (s: string, max: number): string {
  const take = (parts: Iterable<string>): string => {
    let out = ''
    let n = 0
    for (const part of parts) {
      n += utf8Bytes(part)
      if (n > max) break
      out += part
    }
    return out
  }
  const whole = take(Array.from(graphemes.segment(s), g => g.segment))
  return whole !== '' ? whole : take(s)
}

/**
 * `s` with the characters of `UNSAFE_CHAR` written as escapes, `\x1b` below U+0100 and `\u{202e}`
 * above, so that nothing in it is obeyed by a terminal or reorders the line. Everything else,
 * accents and emoji included, is left as it is. Escaping twice changes nothing more.
 */
export function terminalSafe (s: string): string {
  return String(s).replace(UNSAFE_CHAR, ch => {
    const cp = ch.codePointAt(0)!
    return cp < 0x100 ? `\\x${cp.toString(16).padStart(2, '0')}` : `\\u{${cp.toString(16)}}`
  })
}
