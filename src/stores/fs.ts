/**
 * `FragmentStore` on a local disk, for full farmers. The layout and file format are described in
 * `fs-format.ts`. One process owns a DIR at a time (the farmer holds its identity there too): two
 * stores on one DIR would delete each other's temp files and miscount the quota.
 *
 * Crash safety: a fragment is written to DIR/tmp, fsynced, renamed to its content address and the
 * directory fsynced, so a file under a valid id is always complete. The only state kept in memory
 * is an index id → payload size and claims, which `open` rebuilds from the files on disk; nothing
 * else survives a restart, so nothing else can drift from the disk.
 */
import { createHash, randomUUID } from 'node:crypto'
import type { FileHandle } from 'node:fs/promises'
import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { throwIfAborted } from '../core/errors.ts'
import {
  assertFragmentId, CorruptFragmentError, DiskFullError, FragmentNotFoundError, isFragmentId,
  mergeClaims, StoreClosedError, verifyPut
} from '../core/fragment-store.ts'
import type {
  AbortOptions, ClaimsUpdate, FragmentClaim, FragmentEntry, FragmentId, FragmentMeta, FragmentReadStream, FragmentStore,
  ReadStreamOptions, StoredFragmentMeta, StoreStat
} from '../core/fragment-store.ts'
import { sha256Hex } from '../core/hash.ts'
import { CLAIMS_SUFFIX, decodeClaims, decodeHeader, encodeClaims, encodeHeader, HEADER_SIZE } from './fs-format.ts'
import { StoreLedger } from './ledger.ts'
import type { LedgerEntry } from './ledger.ts'
import type { FragmentHeader } from './fs-format.ts'

/** Default quota of a disk store: 10 GiB, the farmer's documented default. */
export const FS_STORE_QUOTA = 10 * 1024 ** 3

/** Bytes per chunk of `openRead` unless the caller asks otherwise. */
export const FS_READ_CHUNK_BYTES = 256 * 1024

/** Files the startup scan reads at once: enough to overlap I/O, few enough to spare descriptors. */
const SCAN_CONCURRENCY = 32

/** Options of `FsFragmentStore.open`. */
export interface FsFragmentStoreInit {
  /**
   * Most payload bytes the store accepts (headers and filesystem blocks are not counted).
   * @default FS_STORE_QUOTA (10 GiB)
   */
  quota?: number
}

const CORRUPT = Symbol('corrupt')
const MISSING = Symbol('missing')
type Read<T> = T | typeof CORRUPT | typeof MISSING

/** `FragmentStore` of content-addressed files under one directory. */
export class FsFragmentStore implements FragmentStore {
  readonly #dir: string
  readonly #ledger: StoreLedger
  #closed = false

  private constructor (dir: string, quota: number, index: Map<FragmentId, LedgerEntry>) {
    this.#dir = dir
    this.#ledger = new StoreLedger(quota, index)
  }

  /**
   * Opens (creating if needed) the store in `dir`. Deletes leftover temp files, then rebuilds the
   * totals from the fragment files, quarantining any whose name is not a valid id or whose header
   * or size is inconsistent. Payloads are not re-hashed here (slow on a big store): `get` does it.
   * A quota below what is already stored is allowed (an operator shrinking it): puts are refused
   * until deletes bring `used` back under it.
   */
  static async open (dir: string, init: FsFragmentStoreInit = {}): Promise<FsFragmentStore> {
    await rm(join(dir, 'tmp'), { recursive: true, force: true })
    for (const sub of ['fragments', 'quarantine', 'tmp']) await mkdir(join(dir, sub), { recursive: true })
    await createFanOut(join(dir, 'fragments'))
    return new FsFragmentStore(dir, init.quota ?? FS_STORE_QUOTA, await scan(dir))
  }

  /** @inheritDoc */
  async put (id: FragmentId, bytes: Uint8Array, meta?: FragmentMeta, options: AbortOptions = {}): Promise<void> {
    this.#assertOpen()
    const stored = await verifyPut(id, bytes, meta, options.signal)
    await this.#ledger.exclusive(id, async () => {
      this.#assertOpen()
      const held = this.#ledger.meta(id)
      if (held !== undefined) {
        const claims = mergeClaims(id, held.claims, stored.claims)
        await this.#writeClaims(id, claims)
        this.#ledger.setClaims(id, claims)
        return
      }
      await this.#ledger.admit(id, bytes.byteLength, stored, async () => {
        // Claims first: a crash between the renames leaves a claims file alone, removed at open.
        await this.#writeClaims(id, stored.claims)
        try {
          await this.#write(id, bytes, stored, options.signal)
        } catch (err) {
          await rm(this.#claimsPathOf(id), { force: true }).catch(() => {})
          throw err
        }
      })
    })
  }

  /** @inheritDoc */
  async updateClaims (id: FragmentId, update: ClaimsUpdate, options: AbortOptions = {}): Promise<FragmentClaim[] | undefined> {
    this.#check(id, options)
    return await this.#ledger.exclusive(id, async () => {
      this.#assertOpen()
      return await this.#ledger.updateClaims(id, update, { remove: async () => { await this.#remove(id) }, persist: async claims => { await this.#writeClaims(id, claims) } })
    })
  }

  /** @inheritDoc */
  async * list (options: AbortOptions = {}): AsyncGenerator<FragmentEntry> {
    this.#assertOpen()
    yield * this.#ledger.entries(options.signal)
  }

  /** @inheritDoc */
  async get (id: FragmentId, options: AbortOptions = {}): Promise<Uint8Array> {
    this.#check(id, options)
    if (!this.#ledger.has(id)) throw new FragmentNotFoundError(id)
    return await this.#read(id, async file => {
      const buf = await readFile(file).catch(ifMissing)
      if (buf === MISSING) return MISSING
      const header = decodeHeader(buf)
      if (header === undefined || header.length !== buf.byteLength - HEADER_SIZE) return CORRUPT
      // A plain Uint8Array view, not a Buffer: callers compare and transfer it like any other.
      const payload = new Uint8Array(buf.buffer, buf.byteOffset + HEADER_SIZE, header.length)
      return await sha256Hex(payload) === id ? payload : CORRUPT
    })
  }

  /**
   * @inheritDoc — one open file handle per read; each chunk is read at its offset, hashed with
   * `node:crypto` as it goes, and handed out one step behind, so the last is held back until the
   * digest matches. A mismatch goes through `get`, which re-reads under the id's lock and quarantines.
   */
  async openRead (id: FragmentId, options: ReadStreamOptions = {}): Promise<FragmentReadStream> {
    this.#check(id, options)
    if (!this.#ledger.has(id)) throw new FragmentNotFoundError(id)
    const chunkBytes = Math.max(1, options.chunkBytes ?? FS_READ_CHUNK_BYTES)
    const { fh, length } = await this.#read(id, async file => {
      const handle = await open(file, 'r').catch(ifMissing)
      if (handle === MISSING) return MISSING
      const header = await readOpenHeader(handle).catch(async (err: unknown) => { await handle.close(); throw err })
      if (header === CORRUPT) {
        await handle.close()
        return CORRUPT
      }
      return { fh: handle, length: header.length }
    })
    let closed = false
    const close = async (): Promise<void> => {
      if (closed) return
      closed = true
      await fh.close()
    }
    return { size: length, chunks: this.#chunks(id, fh, length, chunkBytes, close, options.signal), close }
  }

  /** @inheritDoc */
  async has (ids: FragmentId[], options: AbortOptions = {}): Promise<boolean[]> {
    this.#assertOpen()
    throwIfAborted(options.signal)
    ids.forEach(id => { assertFragmentId(id) })
    return ids.map(id => this.#ledger.has(id))
  }

  /** @inheritDoc — from memory: claims files are checked (CRC and every field) when the store opens. */
  async meta (id: FragmentId, options: AbortOptions = {}): Promise<StoredFragmentMeta | undefined> {
    this.#check(id, options)
    return this.#ledger.meta(id)
  }

  /** @inheritDoc */
  async delete (id: FragmentId, options: AbortOptions = {}): Promise<boolean> {
    this.#check(id, options)
    return await this.#ledger.exclusive(id, async () => {
      this.#assertOpen()
      if (!this.#ledger.has(id)) return false
      await this.#remove(id)
      return true
    })
  }

  /** Removes a fragment and its claims file; call it inside `exclusive(id)`. */
  async #remove (id: FragmentId): Promise<void> {
    // No directory fsync: a delete lost to a power cut only brings back a valid fragment, which
    // the scan then counts again (with its claims, whose leases still run out).
    await rm(this.#pathOf(id), { force: true })
    await rm(this.#claimsPathOf(id), { force: true })
    this.#ledger.drop(id)
  }

  /** @inheritDoc */
  async stat (): Promise<StoreStat> {
    this.#assertOpen()
    return this.#ledger.stat()
  }

  /** @inheritDoc */
  async close (): Promise<void> {
    this.#closed = true
    await this.#ledger.settled()
  }

  /** Path of the file holding `id`; only ever called with a validated id. */
  #pathOf (id: FragmentId): string {
    return join(this.#dir, 'fragments', id.slice(0, 2), id)
  }

  #claimsPathOf (id: FragmentId): string {
    return this.#pathOf(id) + CLAIMS_SUFFIX
  }

  /** Replaces the claims file of `id` whole: temp file, fsync, rename, directory fsync. */
  async #writeClaims (id: FragmentId, claims: readonly FragmentClaim[]): Promise<void> {
    const tmp = join(this.#dir, 'tmp', `${id}.claims.${randomUUID()}`)
    const final = this.#claimsPathOf(id)
    try {
      const fh = await open(tmp, 'wx')
      try {
        await fh.writeFile(encodeClaims(claims))
        await fh.sync()
      } finally {
        await fh.close()
      }
      await rename(tmp, final).catch(async (err: unknown) => {
        if (errorCode(err) !== 'ENOENT') throw err
        await mkdir(dirname(final), { recursive: true })
        await rename(tmp, final)
      })
      await fsyncDir(dirname(final))
    } catch (err) {
      await rm(tmp, { force: true }).catch(() => {})
      const code = errorCode(err)
      if (code === 'ENOSPC' || code === 'EDQUOT') throw new DiskFullError(code, { id })
      throw err
    }
  }

  async #write (id: FragmentId, bytes: Uint8Array, meta: FragmentMeta, signal?: AbortSignal): Promise<void> {
    const tmp = join(this.#dir, 'tmp', `${id}.${randomUUID()}`)
    const final = this.#pathOf(id)
    let renamed = false
    try {
      const fh = await open(tmp, 'wx')
      try {
        await fh.writeFile(encodeHeader(meta, bytes.byteLength))
        await fh.writeFile(bytes)
        await fh.sync() // the bytes must be durable before a name points at them
      } finally {
        await fh.close()
      }
      throwIfAborted(signal) // the last moment an abort can still leave nothing behind
      await rename(tmp, final).catch(async (err: unknown) => {
        if (errorCode(err) !== 'ENOENT') throw err
        // Its fan-out directory was removed while the store was open (`open` makes all 256).
        await mkdir(dirname(final), { recursive: true })
        await fsyncDir(dirname(dirname(final)))
        await rename(tmp, final)
      })
      renamed = true
      await fsyncDir(dirname(final))
    } catch (err) {
      // Nothing counts as stored unless all of it is durable: undo whichever step got through.
      await rm(renamed ? final : tmp, { force: true }).catch(() => {})
      const code = errorCode(err)
      if (code === 'ENOSPC' || code === 'EDQUOT') throw new DiskFullError(code, { id })
      throw err
    }
  }

  /**
   * Reads through `read`. On a bad or missing file, reads again under the id's lock, since a
   * delete and re-put may have replaced the file meanwhile, and only then drops the fragment.
   */
  async #read<T> (id: FragmentId, read: (file: string) => Promise<Read<T>>): Promise<T> {
    const first = await read(this.#pathOf(id))
    if (first !== CORRUPT && first !== MISSING) return first
    return await this.#ledger.exclusive(id, async () => {
      const again = await read(this.#pathOf(id))
      if (again !== CORRUPT && again !== MISSING) return again
      if (this.#ledger.has(id)) {
        if (again === CORRUPT) await quarantine(this.#dir, this.#pathOf(id), 'corrupt')
        await rm(this.#claimsPathOf(id), { force: true }).catch(() => {})
        this.#ledger.drop(id)
      }
      throw again === CORRUPT ? new CorruptFragmentError(id) : new FragmentNotFoundError(id)
    })
  }

  /** The chunks of an `openRead`, each handed out once the next has been read (the last once verified). */
  async * #chunks (id: FragmentId, fh: FileHandle, length: number, chunkBytes: number, close: () => Promise<void>,
    signal?: AbortSignal): AsyncGenerator<Uint8Array> {
    try {
      const hash = createHash('sha256')
      let held: Uint8Array | undefined
      for (let off = 0; off < length;) {
        throwIfAborted(signal)
        const want = Math.min(chunkBytes, length - off)
        const { bytesRead, buffer } = await fh.read(new Uint8Array(want), 0, want, HEADER_SIZE + off)
        if (bytesRead < want) throw await this.#condemn(id) // truncated under us
        hash.update(buffer)
        if (held !== undefined) yield held
        held = buffer
        off += want
      }
      if (hash.digest('hex') !== id) throw await this.#condemn(id)
      if (held !== undefined) yield held
    } finally {
      await close()
    }
  }

  /**
   * A streamed read found `id` damaged: `get` re-reads it under the lock and drops it when it is
   * (a fragment replaced meanwhile is kept). Either way this read fails with `CorruptFragmentError`.
   */
  async #condemn (id: FragmentId): Promise<CorruptFragmentError> {
    await this.get(id).catch(() => {})
    return new CorruptFragmentError(id)
  }

  #check (id: FragmentId, options: AbortOptions): void {
    this.#assertOpen()
    assertFragmentId(id)
    throwIfAborted(options.signal)
  }

  #assertOpen (): void {
    if (this.#closed) throw new StoreClosedError()
  }
}

/**
 * Rebuilds the index from DIR/fragments, quarantining whatever is not a sound fragment file. A
 * fragment's claims come from its claims file, else (older format) from its header; a claims file
 * that fails its check is quarantined and the header's claims (none for new fragments) are used,
 * so that fragment is collected once the farmer sees nobody claims it. A claims file without its
 * fragment is what a crash between the two renames leaves: it is removed.
 */
async function scan (dir: string): Promise<Map<FragmentId, LedgerEntry>> {
  const index = new Map<FragmentId, LedgerEntry>()
  const root = join(dir, 'fragments')
  for (const fan of await readdir(root, { withFileTypes: true })) {
    const fanDir = join(root, fan.name)
    if (!fan.isDirectory() || !/^[0-9a-f]{2}$/.test(fan.name)) {
      await quarantine(dir, fanDir, 'stray')
      continue
    }
    const entries = await readdir(fanDir, { withFileTypes: true })
    const claimFiles = new Set<string>()
    const fragments = entries.filter(entry => {
      const name = entry.name
      if (!name.endsWith(CLAIMS_SUFFIX)) return true
      const id = name.slice(0, -CLAIMS_SUFFIX.length)
      if (entry.isFile() && isFragmentId(id) && id.startsWith(fan.name)) {
        claimFiles.add(id)
        return false
      }
      return true
    })
    for (let i = 0; i < fragments.length; i += SCAN_CONCURRENCY) {
      await Promise.all(fragments.slice(i, i + SCAN_CONCURRENCY).map(async entry => {
        const file = join(fanDir, entry.name)
        const sound = entry.isFile() && isFragmentId(entry.name) && entry.name.startsWith(fan.name)
        const header = sound ? await readHeader(file) : CORRUPT
        if (header === CORRUPT) await quarantine(dir, file, 'scan')
        else if (header !== MISSING) {
          let claims = header.meta.claims
          if (claimFiles.delete(entry.name)) {
            const path = file + CLAIMS_SUFFIX
            const read = decodeClaims(entry.name, new Uint8Array(await readFile(path)))
            if (read === undefined) await quarantine(dir, path, 'claims')
            else claims = read
          }
          index.set(entry.name, { size: header.length, claims, storedAt: header.meta.storedAt })
        }
      }))
    }
    for (const orphan of claimFiles) await rm(join(fanDir, orphan + CLAIMS_SUFFIX), { force: true })
  }
  return index
}

/** Reads and checks a fragment file's header, including that the file size matches it. */
async function readHeader (file: string): Promise<Read<FragmentHeader>> {
  const fh = await open(file, 'r').catch(ifMissing)
  if (fh === MISSING) return MISSING
  try {
    return await readOpenHeader(fh)
  } finally {
    await fh.close()
  }
}

/** `readHeader` on a file already open. */
async function readOpenHeader (fh: FileHandle): Promise<FragmentHeader | typeof CORRUPT> {
  const { size } = await fh.stat()
  const { buffer, bytesRead } = await fh.read(new Uint8Array(HEADER_SIZE), 0, HEADER_SIZE, 0)
  const header = bytesRead === HEADER_SIZE ? decodeHeader(buffer) : undefined
  return header !== undefined && header.length === size - HEADER_SIZE ? header : CORRUPT
}

/** Moves `path` into DIR/quarantine under a unique name, keeping it as evidence of a bad disk. */
async function quarantine (dir: string, path: string, reason: string): Promise<void> {
  const name = `${Date.now()}-${reason}-${randomUUID().slice(0, 8)}-${path.split(/[\\/]/).pop() ?? ''}`
  await rename(path, join(dir, 'quarantine', name)).catch(async (err: unknown) => {
    if (errorCode(err) !== 'ENOENT') await rm(path, { recursive: true, force: true })
  })
}

/**
 * Makes the 256 fan-out directories (00…ff) up front, with one fsync of `fragments/`. Made on
 * demand instead, the first PUTs into a new store each paid a mkdir and an fsync of the parent:
 * a journal commit that every farmer on the disk waits behind.
 */
async function createFanOut (fragments: string): Promise<void> {
  const names = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'))
  const made = await Promise.all(names.map(async n => await mkdir(join(fragments, n), { recursive: true }) !== undefined))
  if (made.some(Boolean)) await fsyncDir(fragments)
}

/** Makes a directory's entries durable. Windows cannot open directories: it has no need to. */
async function fsyncDir (dir: string): Promise<void> {
  const fh = await open(dir, 'r').catch((err: unknown) => {
    if (errorCode(err) === 'EISDIR' || errorCode(err) === 'EPERM') return undefined
    throw err
  })
  try {
    await fh?.sync()
  } finally {
    await fh?.close()
  }
}

/** Turns ENOENT into `MISSING`, rethrows anything else. */
function ifMissing (err: unknown): typeof MISSING {
  if (errorCode(err) === 'ENOENT') return MISSING
  throw err
}

const errorCode = (err: unknown): unknown => (err as { code?: unknown } | null)?.code
