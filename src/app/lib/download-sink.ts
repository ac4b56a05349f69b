/**
 * Where a download lands before the person saves it: a file in the origin-private file system
 * (disk, so memory stays flat for any size), else a Blob of the parts (browsers without OPFS).
 *
 * Each file lives in the OPFS directory `downloads/` and is held by a Web Lock of its own name for
 * as long as the page that wrote it still shows it. `discard()` removes it; `sweep()` removes every
 * file no page holds any more (tabs closed mid-download or before the person saved), so downloads
 * do not pile up in the site's storage. Without Web Locks nothing is swept: another tab's file
 * cannot be told apart from a leftover.
 */
export interface DownloadSink {
  write: (b: Uint8Array) => Promise<void>
  /** Finishes writing and returns the file (a disk-backed Blob). */
  close: () => Promise<Blob>
  /** Aborts an unfinished write, removes the file and lets go of its lock. Safe to call twice. */
  discard: () => Promise<void>
}

const DIR = 'downloads'
const LOCK = 'shardfarm-download:'

type Opfs = StorageManager & { getDirectory?: () => Promise<FileSystemDirectoryHandle> }
type Writable = FileSystemWritableFileStream & { abort?: () => Promise<void> }
type Entries = FileSystemDirectoryHandle & { keys: () => AsyncIterable<string> }

async function downloadsDir (): Promise<FileSystemDirectoryHandle | undefined> {
  const storage = globalThis.navigator?.storage as Opfs | undefined
  if (typeof storage?.getDirectory !== 'function') return undefined
  return await (await storage.getDirectory()).getDirectoryHandle(DIR, { create: true })
}

/** Holds the Web Lock `name` until the returned function is called (or the page goes away). */
async function hold (name: string): Promise<() => void> {
  const locks = globalThis.navigator?.locks
  if (locks === undefined) return () => {}
  return await new Promise(resolve => {
    void locks.request(name, async () => { await new Promise<void>(release => { resolve(release) }) })
  })
}

export async function openSink (name: string): Promise<DownloadSink> {
  const dir = await downloadsDir()
  if (dir === undefined) {
    const parts: Uint8Array[] = []
    return {
      write: async b => { parts.push(b.slice()) },
      close: async () => new Blob(parts as Uint8Array<ArrayBuffer>[]),
      discard: async () => { parts.length = 0 }
    }
  }
  const file = `${Date.now()}-${Math.random().toString(36).slice(2, 8)}-${name.replace(/[^\w.-]/g, '_').slice(0, 100)}`
  const release = await hold(LOCK + file)
  let fh: FileSystemFileHandle
  let w: Writable | undefined
  try {
    fh = await dir.getFileHandle(file, { create: true })
    w = await fh.createWritable() as Writable
  } catch (err) {
    await dir.removeEntry(file).catch(() => {})
    release()
    throw err
  }
  let gone = false
  return {
    write: async b => { await w!.write(b as Uint8Array<ArrayBuffer>) },
    close: async () => { await w!.close(); w = undefined; return await fh.getFile() },
    discard: async () => {
      if (gone) return
      gone = true
      await w?.abort?.().catch(() => {})
      await dir.removeEntry(file).catch(() => {})
      release()
    }
  }
}

/** Removes the downloads no page holds any more. Returns how many it removed. */
export async function sweep (): Promise<number> {
  const locks = globalThis.navigator?.locks
  const dir = await downloadsDir().catch(() => undefined)
  if (locks === undefined || dir === undefined) return 0
  let removed = 0
  const names: string[] = []
  for await (const n of (dir as Entries).keys()) names.push(n)
  for (const n of names) {
    await locks.request(LOCK + n, { ifAvailable: true }, async lock => {
      if (lock === null) return // a page still shows it (or is still writing it)
      await dir.removeEntry(n).then(() => { removed++ }, () => {})
    })
  }
  return removed
}

/** `window.showSaveFilePicker` (File System Access API), where the browser has it. */
type SaveFilePicker = (options?: { suggestedName?: string }) => Promise<FileSystemFileHandle>

/** The browser's save dialog, when it has one a page may open (Chromium); undefined elsewhere. */
export function savePicker (): SaveFilePicker | undefined {
  const pick = (globalThis as { showSaveFilePicker?: SaveFilePicker }).showSaveFilePicker
  return typeof pick === 'function' ? pick.bind(globalThis) : undefined
}

/**
 * A sink writing straight into the file the person chose in the save dialog: one click, and the
 * bytes stream to disk with no copy in the page's storage. `discard()` aborts the write (the
 * browser then leaves the chosen file as it was, or removes it where it may).
 */
export async function pickedSink (handle: FileSystemFileHandle): Promise<DownloadSink> {
  let w: Writable | undefined = await handle.createWritable() as Writable
  return {
    write: async b => { await w!.write(b as Uint8Array<ArrayBuffer>) },
    close: async () => { await w!.close(); w = undefined; return await handle.getFile() },
    discard: async () => {
      const open = w
      w = undefined
      await open?.abort?.().catch(() => {})
    }
  }
}
