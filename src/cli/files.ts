/**
 * The file commands: `put`, `get`, `stat`, `rm`, `repair`, `renew`, `ls`. stdout carries only the result (the link,
 * the bytes, a table or `--json`); progress bars and logs go to stderr.
 *
 * Exit codes come from the error catalogue (`src/core/error-catalogue.ts`): 0 done, 1 other
 * failure, 2 usage, 3 data unavailable (too few farmers answered), 4 authentication failed (wrong
 * key or tampered data), 5 the policy cannot be placed on this grid, 130 interrupted (Ctrl-C).
 */
import { createHash } from 'node:crypto'
import { readFile, rm } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { parseArgs } from 'node:util'
import { parseCapability, type Capability } from '../core/capability.ts'
import { fromBase64, ownerKeyFromSeed, toBase64 } from '../core/owner-key.ts'
import { normalizePolicy } from '../core/policy.ts'
import { EXIT, exitCodeOf } from '../core/error-catalogue.ts'
import { fetchManifest } from '../client/blocks/open-manifest.ts'
import { openFileSource } from '../client/adapters/file-source.node.ts'
import { deleteFile } from '../client/ops/delete.ts'
import { Download } from '../client/ops/download.ts'
import { Repair, type RepairProgress } from '../client/ops/repair.ts'
import { renewFiles, type RenewSummary } from '../client/ops/renew.ts'
import { fileHealth } from '../client/ops/stat.ts'
import { UploadJob, type UploadProgress } from '../client/ops/upload.ts'
import { OwnerIndex, type OwnedFile } from '../client/owner-index.ts'
import { clientHome, nodeJobStore, nodeKeyValueStore, openNodeClient, type NodeClient } from '../client/session.node.ts'
import { importLegacyIndex } from './legacy-index.ts'
import { UsageError } from './args.ts'
import { openPartial, partialPath, placeFile, refuseExisting } from './download-target.ts'
import { ProgressBar } from './progress.ts'
import { resolveRelay } from './relay-address.ts'
import { safeFileName, terminalSafe } from './safe-name.ts'
import { CLOSE_GRACE_MS, settlesWithin } from './lifecycle.ts'

export const FILES_USAGE = `shardfarm put FILE [--policy live|archive|mixed|POLICY.json] [--relay ADDR] [--json]
shardfarm get LINK [-o FILE|-] [--force] [--relay ADDR]
    saves as FILE, or under the file's shared name made safe (no directories, no leading dot, no
    control characters); refuses to replace an existing file (exit 2) unless --force
shardfarm stat LINK [--relay ADDR] [--json]
    each fragment proven (●: an audit passed), claimed but not proven (◐) or missing (○)
shardfarm rm LINK [--relay ADDR]
shardfarm repair LINK [--relay ADDR] [--json]
shardfarm renew [--relay ADDR] [--json]
    extends the farmers' leases on every file put from here (farmers drop what nobody renews)
shardfarm ls [--json]`

export function args (argv: string[], options: Record<string, { type: 'string' | 'boolean', short?: string }>): { values: Record<string, string | boolean | undefined>, positionals: string[] } {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: true }) as never
  } catch (err) {
    throw new UsageError((err as Error).message)
  }
}

/**
 * Runs `fn` with a session; maps typed errors to a message on stderr and an exit code. Ctrl-C
 * aborts `fn` through `signal` (exit 130; an interrupted put resumes from its journal); a second
 * Ctrl-C kills at once.
 */
export async function withSession (relayFlag: unknown, fn: (s: NodeClient, signal: AbortSignal) => Promise<void>): Promise<void> {
  const session = await openNodeClient(await resolveRelay(typeof relayFlag === 'string' ? relayFlag : undefined))
  const ctl = new AbortController()
  const onSignal = (): void => { ctl.abort() }
  process.once('SIGINT', onSignal)
  try {
    await fn(session, ctl.signal)
  } catch (err) {
    const e = err as Error
    if (e.name === 'UsageError') throw e
    process.stderr.write(`shardfarm: ${ctl.signal.aborted ? 'interrupted' : e.message}\n`)
    process.exitCode = ctl.signal.aborted ? EXIT.INTERRUPTED : exitCodeOf(e)
  } finally {
    process.off('SIGINT', onSignal)
    // The work is done (or has failed) by now: a connection that will not close must not keep the
    // command from exiting. Seen once after a get whose file was complete and renamed.
    if (!await settlesWithin(session.close(), CLOSE_GRACE_MS)) {
      process.stderr.write(`shardfarm: connections did not close within ${CLOSE_GRACE_MS / 1000} s; exiting anyway\n`)
      process.exit(process.exitCode ?? 0)
    }
  }
}

async function loadPolicy (p: string | undefined): Promise<unknown> {
  if (p === undefined || p === 'live' || p === 'archive' || p === 'mixed') return p ?? 'live'
  try {
    return JSON.parse(await readFile(p, 'utf8'))
  } catch (err) {
    throw new UsageError(`--policy ${p}: not a preset and not a readable JSON file (${(err as Error).message})`)
  }
}

/**
 * Segments a CLI upload keeps in flight (the pipeline's default is 2). With 2, one segment is often
 * being prepared while the other's 14 fragments are out, so each farmer had about one PUT to work
 * on and waited on its fsync; 4 keeps two to three segments on the wire. Measured on a 1 GiB put
 * over 14 farmers: 24.8 → 19.7 s, peak RSS 225 → 259 MiB; 6 was no faster (19.8 s) at 304 MiB.
 */
const CLI_UPLOAD_SEGMENTS = 4

export async function putCommand (argv: string[]): Promise<void> {
  const { values, positionals } = args(argv, { policy: { type: 'string' }, relay: { type: 'string' }, json: { type: 'boolean' } })
  if (positionals.length !== 1) throw new UsageError('put takes exactly one FILE')
  const path = positionals[0]!
  const policy = normalizePolicy(await loadPolicy(values.policy as string | undefined))
  await withSession(values.relay, async (s, signal) => {
    // Start the codec worker now (about 0.35 s: a thread, its modules, the wasm), while the
    // directory is asked and the farmers dialled, not when the first segment is ready to encode.
    s.coder.variant().catch(() => {}) // a worker that cannot start fails the first encode, with the reason
    const { source, sourceKey, close } = await openFileSource(path)
    const bar = new ProgressBar('put', source.size)
    try {
      // The job is named by the file's identity, so running put again on an unchanged file resumes it.
      const id = createHash('sha256').update(sourceKey).digest('hex').slice(0, 32)
      const job = await UploadJob.open(nodeJobStore(), { id, sourceKey, size: source.size, policy, name: basename(path) })
      job.addEventListener('progress', e => { const p = (e as CustomEvent<UploadProgress>).detail; bar.update(p.stored, `seg ${p.segment + 1}/${p.segments}`) })
      const r = await job.run(s, source, { signal, concurrency: CLI_UPLOAD_SEGMENTS })
      bar.done()
      if (r.restoredSegments > 0) process.stderr.write(`resumed: ${r.restoredSegments} segments stored before had lost fragments since, and were stored again\n`)
      await (await ownerIndex()).add({
        name: basename(path), size: source.size, link: r.link, manifestId: r.capability.manifestId,
        ownerSeed: toBase64(r.ownerSeed), policy: policy.name, createdAt: r.manifest.createdAt,
        ...(r.strayCopies.length > 0 ? { copies: r.strayCopies } : {})
      })
      await job.forget() // its result is in the index now
      process.stdout.write(values.json === true
        ? JSON.stringify({ link: r.link, verifyLink: r.verifyLink, size: source.size, segments: r.manifest.segments.length, policy: policy.name, sentBytes: r.sentBytes, restoredSegments: r.restoredSegments }) + '\n'
        : r.link + '\n')
    } finally {
      await close()
    }
  })
}

export async function getCommand (argv: string[]): Promise<void> {
  const { values, positionals } = args(argv, { output: { type: 'string', short: 'o' }, force: { type: 'boolean' }, relay: { type: 'string' } })
  if (positionals.length !== 1) throw new UsageError('get takes exactly one LINK')
  const cap = parseCapability(positionals[0]!)
  const opts = { out: values.output as string | undefined, force: values.force === true }
  await withSession(values.relay, async (s, signal) => {
    // A message may quote the file's name, which the sharer chose: escaped before the terminal sees it.
    try {
      await getFile(s, cap, { ...opts, signal })
    } catch (err) {
      throw withTerminalSafeMessage(err)
    }
  })
}

/**
 * Downloads `cap` to `out`, or to stdout for `-`, or else to a file in the current directory named
 * after the manifest's name made safe (`safeFileName`). An existing file is never replaced without
 * `force`.
 */
async function getFile (s: NodeClient, cap: Capability, opts: { out: string | undefined, force: boolean, signal: AbortSignal }): Promise<void> {
  const { out, force, signal } = opts
  const toStdout = out === '-'
  // A name given with -o is checked before anything is fetched; the manifest's once it is known.
  if (out !== undefined && !toStdout && !force) await refuseExisting(out)
  const opened = await fetchManifest(s, cap, { signal })
  const { manifest } = opened
  const target = out ?? safeFileName(manifest.name, cap.manifestId.slice(0, 16))
  if (out === undefined) {
    if (manifest.name !== '' && target !== manifest.name) process.stderr.write(`shardfarm: the file was shared as "${preview(manifest.name)}"; saving it as ${terminalSafe(target)}\n`)
    if (!force) await refuseExisting(target)
  }
  // Each chunk is written before the next is asked for, so its memory is freed at once.
  const dl = new Download(s, cap, { signal, opened, releaseChunks: true })
  // Written beside the target and given its name at the end: a failed download never leaves a file
  // that looks complete.
  const partial = partialPath(target)
  const file = toStdout ? undefined : await openPartial(partial)
  const bar = new ProgressBar('get', manifest.size)
  let written = 0
  try {
    await dl.run(async chunk => {
      if (file !== undefined) await file.write(chunk)
      else await new Promise<void>((resolve, reject) => { process.stdout.write(chunk, err => { if (err == null) resolve(); else reject(err) }) })
      written += chunk.length
      bar.update(written)
    })
    bar.done()
    if (file !== undefined) {
      await file.close()
      await placeFile(partial, target, { force })
      process.stderr.write(`${terminalSafe(target)}: ${manifest.size} bytes\n`)
    }
  } catch (err) {
    if (file !== undefined) { await file.destroy(); await rm(partial, { force: true }) }
    throw err
  }
}

/** A name as the sharer gave it, escaped, and cut after 100 characters: it is only shown. */
function preview (name: string): string {
  const chars = Array.from(terminalSafe(name))
  return chars.length > 100 ? chars.slice(0, 100).join('') + '…' : chars.join('')
}

/** `err` with its message escaped for the terminal (it is printed by `withSession` or `dispatch`). */
function withTerminalSafeMessage (err: unknown): unknown {
  if (err instanceof Error) err.message = terminalSafe(err.message)
  return err
}

export async function statCommand (argv: string[]): Promise<void> {
  const { values, positionals } = args(argv, { relay: { type: 'string' }, json: { type: 'boolean' } })
  if (positionals.length !== 1) throw new UsageError('stat takes exactly one LINK')
  const cap = parseCapability(positionals[0]!)
  await withSession(values.relay, async (s) => {
    const { manifest, segments } = await fileHealth(s, cap)
    const { k, m } = manifest.policy
    // Scripts reading --json get the same verdict in the exit code as people reading the table.
    if (segments.some(s => s.status === 'lost')) process.exitCode = EXIT.UNAVAILABLE
    if (values.json === true) {
      process.stdout.write(JSON.stringify({ name: manifest.name, size: manifest.size, policy: manifest.policy, segments }) + '\n')
      return
    }
    process.stdout.write(`${terminalSafe(manifest.name) || '(unnamed)'}  ${manifest.size} bytes  policy ${terminalSafe(manifest.policy.name)} (${k}+${m})  ${manifest.segments.length} segments\n`)
    for (const seg of segments) {
      const marks = seg.fragments.map(f => (f.reachable.length > 0 ? '●' : f.claimed.length > 0 ? '◐' : '○')).join('')
      process.stdout.write(`  segment ${String(seg.index).padStart(4)}  ${marks}  ${seg.available}/${k + m}  ${seg.status}\n`)
    }
  })
}

/**
 * The files put from this machine, with their owner keys (only this machine can delete them). An
 * index an earlier version kept in `index.json` is taken over the first time.
 */
async function ownerIndex (): Promise<OwnerIndex> {
  const kv = nodeKeyValueStore()
  const legacy = join(clientHome(), 'index.json')
  await importLegacyIndex(kv, legacy).catch((err: Error) => {
    // It holds owner keys: left where it is for a person to look at, and the command goes on.
    process.stderr.write(`shardfarm: ${legacy} could not be read (${err.message}); its files are not in the index until it is fixed\n`)
  })
  return new OwnerIndex(kv)
}

/** This machine's index entry (with the owner key) of a file it put, or a usage error naming `verb`. */
async function ownEntry (manifestId: string, verb: string): Promise<{ index: OwnerIndex, entry: OwnedFile }> {
  const index = await ownerIndex()
  const entry = await index.find(manifestId)
  if (entry === undefined) throw new UsageError(`this machine has no owner key for that file (only the machine that put it can ${verb} it)`)
  return { index, entry }
}

export async function rmCommand (argv: string[]): Promise<void> {
  const { values, positionals } = args(argv, { relay: { type: 'string' } })
  if (positionals.length !== 1) throw new UsageError('rm takes exactly one LINK')
  const cap = parseCapability(positionals[0]!)
  const { index, entry } = await ownEntry(cap.manifestId, 'remove')
  await withSession(values.relay, async (s) => {
    const owner = await ownerKeyFromSeed(fromBase64(entry.ownerSeed))
    const { deleted, failed } = await deleteFile(s, cap, owner, { copies: entry.copies ?? [] })
    if (failed === 0) await index.remove(cap.manifestId)
    process.stderr.write(`removed ${deleted} fragments${failed > 0 ? `, ${failed} could not be removed (farmer down?); run rm again later` : ''}\n`)
    if (failed > 0) process.exitCode = EXIT.UNAVAILABLE
  })
}

/**
 * Rebuilds the fragments a file lost and stores them on other farmers, and its manifest back to
 * m + 1 copies. Links keep working (ids do not change). Only the machine that put the file can,
 * like `rm`: the new copies carry its owner key. Exit 3 when some segment is lost or still short.
 */
export async function repairCommand (argv: string[]): Promise<void> {
  const { values, positionals } = args(argv, { relay: { type: 'string' }, json: { type: 'boolean' } })
  if (positionals.length !== 1) throw new UsageError('repair takes exactly one LINK')
  const cap = parseCapability(positionals[0]!)
  const { index, entry } = await ownEntry(cap.manifestId, 'repair')
  await withSession(values.relay, async (s, signal) => {
    const owner = await ownerKeyFromSeed(fromBase64(entry.ownerSeed))
    let bar: ProgressBar | undefined
    const repair = new Repair(s, cap, owner)
    repair.addEventListener('progress', e => {
      const { done, segments, size } = (e as CustomEvent<RepairProgress>).detail;
      (bar ??= new ProgressBar('repair', size)).update(Math.round(size * done / segments), `seg ${done}/${segments}`)
    })
    const r = await repair.run({ signal })
    bar?.done()
    if (r.placed.length > 0) await index.addCopies(entry.manifestId, r.placed)
    if (r.lost.length > 0 || r.short.length > 0) process.exitCode = EXIT.UNAVAILABLE
    if (values.json === true) { process.stdout.write(JSON.stringify(r) + '\n'); return }
    process.stderr.write(`${r.segments} segments: ${r.repaired} repaired (${r.fragmentsStored} fragments rebuilt and stored), ` +
      `${r.manifestCopiesStored} manifest copies added` +
      (r.short.length > 0 ? `; segments ${r.short.join(', ')} still short of farmers, run repair again later` : '') +
      (r.lost.length > 0 ? `; segments ${r.lost.join(', ')} are lost (fewer than k fragments left)` : '') + '\n')
  })
}

/**
 * Renews the leases of every file in this machine's owner index: one signed RENEW per farmer and
 * owner key. Exit 3 when some farmer did not answer or some file's manifest could not be opened
 * (those claims run on towards expiry: run it again later).
 */
export async function renewCommand (argv: string[]): Promise<void> {
  const { values, positionals } = args(argv, { relay: { type: 'string' }, json: { type: 'boolean' } })
  if (positionals.length !== 0) throw new UsageError('renew takes no LINK: it renews every file put from here')
  const all = await (await ownerIndex()).list()
  await withSession(values.relay, async (s, signal) => {
    const total: RenewSummary = { files: 0, unopened: [], farmersAsked: 0, renewed: 0, notRenewed: 0, unreachable: [] }
    // Each file has an owner key of its own (derived from its seed): one renewal per key.
    const bySeed = new Map<string, OwnedFile[]>()
    for (const e of all) bySeed.set(e.ownerSeed, [...bySeed.get(e.ownerSeed) ?? [], e])
    for (const [seed, files] of bySeed) {
      const owner = await ownerKeyFromSeed(fromBase64(seed))
      const r = await renewFiles(s, files.map(f => parseCapability(f.link)), owner, { signal })
      total.files += r.files
      total.unopened.push(...r.unopened)
      total.farmersAsked += r.farmersAsked
      total.renewed += r.renewed
      total.notRenewed += r.notRenewed
      total.unreachable.push(...r.unreachable)
    }
    if (total.unreachable.length > 0 || total.unopened.length > 0) process.exitCode = EXIT.UNAVAILABLE
    if (values.json === true) { process.stdout.write(JSON.stringify(total) + '\n'); return }
    process.stderr.write(`${total.files} files: ${total.renewed} claims renewed on ${total.farmersAsked} farmers` +
      (total.notRenewed > 0 ? `, ${total.notRenewed} no longer held (run stat and repair)` : '') +
      (total.unreachable.length > 0 ? `; ${total.unreachable.length} farmers unreachable, run renew again later` : '') +
      (total.unopened.length > 0 ? `; ${total.unopened.length} files could not be opened` : '') + '\n')
  })
}

export async function lsCommand (argv: string[]): Promise<void> {
  const { values } = args(argv, { json: { type: 'boolean' } })
  const all = await (await ownerIndex()).list()
  if (values.json === true) {
    process.stdout.write(JSON.stringify(all.map(({ ownerSeed: _, ...rest }) => rest)) + '\n')
    return
  }
  for (const e of all) process.stdout.write(`${new Date(e.createdAt).toISOString().slice(0, 19)}  ${String(e.size).padStart(12)}  ${terminalSafe(e.policy).padEnd(8)}  ${terminalSafe(e.name)}\n    ${e.link}\n`)
}
