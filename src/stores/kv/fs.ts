/**
 * `KeyValueStore` on disk, for the CLI, farmers and relays: one file per key under a root
 * directory that the store has to itself.
 *
 * Layout: each segment is a path component. A key may be the prefix of another, so the value of
 * `['jobs', id]` is the file `ROOT/jobs/<id>.v` and the keys below it live in the directory
 * `ROOT/jobs/<id>/`. Segments may contain `.`, which is written as `~` (a character segments
 * cannot have): a name on disk then has a dot only before its suffix, and the segment `x.v` (in
 * `x~v/` and `x~v.v`) can never be mistaken for the value of `x`. One character for one, so the
 * longest segment (128) still fits the 255-byte names of every file system.
 *
 * Crash safety: a save writes a temp file of its own beside the value (`<name>.v.<uuid>.tmp`),
 * flushes it and renames it over the value, so after a crash or a kill the key holds its old value
 * or its new one. A killed save leaves its temp file behind; reads and listings never look at it,
 * and `removeRange` of a prefix above it removes it.
 *
 * Files are 0600 and directories 0700 (when the store creates them): the values include owner
 * keys and identities.
 *
 * Keys that differ only in letter case share a file on a case-insensitive file system (macOS's
 * and Windows' default). Shardfarm's own keys are lowercase (words, hex ids).
 */
import { randomUUID } from 'node:crypto'
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { checkStorageKey } from '../../core/key-value-store.ts'
import type { KeyValueStore, StorageKey } from '../../core/key-value-store.ts'
import { DiskFullError } from '../../core/store-errors.ts'
import { compareKeys, copyBytes } from './keys.ts'

/** The suffix of a file holding a value. */
const VALUE = '.v'
/** What a removed subtree is renamed to before it is deleted: a name no key maps to. */
const GONE = '.gone'
/** Saves retried when a concurrent `removeRange` takes their directory away under them. */
const SAVE_ATTEMPTS = 4

const encode = (segment: string): string => segment.replaceAll('.', '~')

/** The segment a name on disk stands for, or undefined for a name the store did not write. */
function decode (name: string): string | undefined {
  if (name.includes('.')) return undefined
  const segment = name.replaceAll('~', '.')
  try {
    checkStorageKey([segment])
    return segment
  } catch {
    return undefined
  }
}

function errorCode (err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code
}

/** `KeyValueStore` in files under one directory. */
export class FsKeyValueStore implements KeyValueStore {
  /** The directory holding every key; made, with its parents, on the first save. */
  readonly root: string

  /** A store under `root`. Nothing is read or made until the first call. */
  constructor (root: string) {
    this.root = root
  }

  /** @inheritDoc */
  async load (key: StorageKey): Promise<Uint8Array | undefined> {
    checkStorageKey(key)
    try {
      // A plain Uint8Array, not a Buffer: callers compare and keep it like any other value.
      return copyBytes(await readFile(this.#valueFile(key)))
    } catch (err) {
      if (errorCode(err) === 'ENOENT') return undefined
      throw err
    }
  }

  /** @inheritDoc */
  async save (key: StorageKey, value: Uint8Array): Promise<void> {
    checkStorageKey(key)
    const bytes = copyBytes(value) // before any await: the caller may reuse its buffer at once
    const dir = this.#dir(key.slice(0, -1))
    const file = this.#valueFile(key)
    for (let attempt = 1; ; attempt++) {
      const tmp = `${file}.${randomUUID()}.tmp`
      try {
        await mkdir(dir, { recursive: true, mode: 0o700 })
        await writeFile(tmp, bytes, { mode: 0o600, flush: true })
        await rename(tmp, file)
        return
      } catch (err) {
        await rm(tmp, { force: true }).catch(() => {})
        const code = errorCode(err)
        if (code === 'ENOSPC' || code === 'EDQUOT') throw new DiskFullError(code, { key })
        // A removeRange of a prefix above the key took the directory away between mkdir and rename.
        if (code !== 'ENOENT' || attempt === SAVE_ATTEMPTS) throw err
      }
    }
  }

  /** @inheritDoc */
  async remove (key: StorageKey): Promise<void> {
    checkStorageKey(key)
    await rm(this.#valueFile(key), { force: true })
  }

  /** @inheritDoc */
  async keys (prefix: StorageKey): Promise<StorageKey[]> {
    checkStorageKey(prefix, true)
    const found: StorageKey[] = []
    if (prefix.length > 0 && await isFile(this.#valueFile(prefix))) found.push([...prefix])
    await walk(this.#dir(prefix), [...prefix], found)
    return found.sort(compareKeys)
  }

  /**
   * @inheritDoc
   *
   * Not atomic: a crash part-way leaves some of the range. The prefix's own value goes first (for
   * a job, its record), so what a crash can leave is keys below an absent one, never a record that
   * has lost what is below it. The subtree is renamed away before it is deleted, so listings see
   * all of it or none.
   */
  async removeRange (prefix: StorageKey): Promise<void> {
    checkStorageKey(prefix, true)
    if (prefix.length === 0) {
      await Promise.all((await entries(this.root)).map(async name => {
        if (decode(name) !== undefined || ownFile(name)) await rm(join(this.root, name), { recursive: true, force: true })
      }))
      return
    }
    await this.remove(prefix)
    const dir = this.#dir(prefix)
    const gone = `${dir}.${randomUUID()}${GONE}`
    try {
      await rename(dir, gone)
    } catch (err) {
      if (errorCode(err) === 'ENOENT') return
      throw err
    }
    await rm(gone, { recursive: true, force: true })
  }

  /** The directory holding the keys below `prefix`. */
  #dir (prefix: StorageKey): string {
    return join(this.root, ...prefix.map(encode))
  }

  #valueFile (key: StorageKey): string {
    return join(this.#dir(key.slice(0, -1)), encode(key[key.length - 1]!) + VALUE)
  }
}

/** A value, or a temp or removed subtree left by a killed save or removeRange: ours to remove. */
function ownFile (name: string): boolean {
  const dot = name.indexOf('.')
  return dot > 0 && decode(name.slice(0, dot)) !== undefined && (name.endsWith(VALUE) || name.endsWith('.tmp') || name.endsWith(GONE))
}

async function isFile (path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile()
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return false
    throw err
  }
}

/** The names in `dir`, or none when it does not exist. */
async function entries (dir: string): Promise<string[]> {
  try {
    return await readdir(dir)
  } catch (err) {
    if (errorCode(err) === 'ENOENT' || errorCode(err) === 'ENOTDIR') return []
    throw err
  }
}

/** Adds to `found` every key stored in `dir`, whose keys start with `key`. */
async function walk (dir: string, key: string[], found: StorageKey[]): Promise<void> {
  let list
  try {
    list = await readdir(dir, { withFileTypes: true })
  } catch (err) {
    if (errorCode(err) === 'ENOENT' || errorCode(err) === 'ENOTDIR') return
    throw err
  }
  await Promise.all(list.map(async entry => {
    if (entry.isDirectory()) {
      const segment = decode(entry.name)
      if (segment !== undefined) await walk(join(dir, entry.name), [...key, segment], found)
    } else if (entry.isFile() && entry.name.endsWith(VALUE)) {
      const segment = decode(entry.name.slice(0, -VALUE.length))
      if (segment !== undefined) found.push([...key, segment])
    }
  }))
}
