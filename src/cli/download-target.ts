/**
 * Where `shardfarm get` puts a download: under `<target>.shardfarm-partial` while it comes in, then
 * under its name, and never over a file that is already there unless the person asked for it
 * (`--force`). A file named `.bashrc` fetched in a home directory must not replace the one there.
 */
import { link, lstat, open, rename, rm } from 'node:fs/promises'
import { ShardfarmError } from '../core/errors.ts'
import { openFileSink, type FileSink } from './file-sink.ts'
import { terminalSafe } from './safe-name.ts'

/**
 * `get` would have replaced something at `path`. Exit 2, like a usage error: running the command
 * again unchanged cannot help, `-o FILE` or `--force` can. The message quotes the path escaped,
 * since the name may be the sharer's.
 */
export class TargetExistsError extends ShardfarmError {
  constructor (path: string) {
    super('TargetExistsError', 'TARGET_EXISTS',
      `${terminalSafe(String(path))} already exists; pass -o FILE to save it under another name, or --force to replace it`,
      { path: String(path) })
  }
}

/** The name a download is written under until it is complete. */
export function partialPath (target: string): string {
  return `${target}.shardfarm-partial`
}

/**
 * Throws `TargetExistsError` when anything is at `path`: a file, a directory, a symlink (even a
 * dangling one, which `placeFile` would refuse too). Asked before a download starts, so that a
 * refusal costs nothing; `placeFile` checks again when it creates the name.
 */
export async function refuseExisting (path: string): Promise<void> {
  try {
    await lstat(path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return
    throw err
  }
  throw new TargetExistsError(path)
}

/**
 * Opens `partial` afresh. Whatever is there is removed first: a file an interrupted get left, or a
 * symlink placed there by someone else, which writing would follow (unlink removes the link, not
 * what it points to).
 */
export async function openPartial (partial: string): Promise<FileSink> {
  await rm(partial, { force: true })
  return await openFileSink(partial)
}

/** Errors of `link(2)` that mean the file system has no hard links (FAT, some network and FUSE mounts). */
const NO_HARD_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EXDEV'])

/**
 * Gives the complete file `partial` its name `target`. With `force`, a rename replaces whatever is
 * there. Without, the name is created and never replaced: checking first and renaming after would
 * clobber a file that appears in between, whereas a hard link fails with EEXIST when anything is at
 * `target`, in the same step that creates it. `partial` is gone afterwards, unless this throws.
 */
export async function placeFile (partial: string, target: string, opts: { force?: boolean } = {}): Promise<void> {
  if (opts.force === true) { await rename(partial, target); return }
  try {
    await link(partial, target)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'EEXIST') throw new TargetExistsError(target)
    if (code === undefined || !NO_HARD_LINKS.has(code)) throw err
    await placeWithoutLink(partial, target)
    return
  }
  await rm(partial, { force: true })
}

/**
 * Without hard links, an empty placeholder is created exclusively and then replaced by the rename.
 * Only a process that removes the placeholder in the moment between could lose a file to it.
 */
async function placeWithoutLink (partial: string, target: string): Promise<void> {
  try {
    await (await open(target, 'wx')).close()
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new TargetExistsError(target)
    throw err
  }
  try {
    await rename(partial, target)
  } catch (err) {
    await rm(target, { force: true })
    throw err
  }
}
