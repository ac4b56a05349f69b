/**
 * Opening a file's manifest from the grid: the first building block of every operation on a file.
 */
import { CapabilityError, type Capability } from '../../core/capability.ts'
import { AbortError } from '../../core/errors.ts'
import { AuthenticationError, deriveVerifyKey, importFileKey } from '../../core/envelope.ts'
import { sha256Hex, toHex } from '../../core/hash.ts'
import { openManifest, openManifestV2, openVerifyManifest, type Manifest, type VerifyManifest } from '../../core/manifest.ts'
import { describe, FileNotFoundError, ManifestUnavailableError, ManifestHashMismatchError } from '../errors.ts'
import type { AbortOptions } from '../../core/errors.ts'
import type { FarmerRef, GridPorts } from '../ports.ts'
import { discoverHolders } from './holder-lookup.ts'

/** A fetched and authenticated manifest, with the addresses of its farmers. */
export interface OpenedManifest<M extends VerifyManifest = Manifest> {
  manifest: M
  resolve: (peerId: string) => FarmerRef
}

/** Turns a sealed manifest into its contents (`AuthenticationError` under a wrong key). */
type Opener<M> = (sealed: Uint8Array) => Promise<M>

/**
 * Fetches the manifest named by a read capability (version 1 or 2): the whole manifest, details
 * included. See `fetchSealedManifest` for how holders are tried.
 */
export async function fetchManifest (ports: GridPorts, cap: Capability, options: AbortOptions = {}): Promise<OpenedManifest> {
  if (cap.kind !== 'read' || cap.key === undefined) throw new TypeError('Reading a file needs a read capability (with its key)')
  const fileKey = await importFileKey(cap.key)
  const verifyKey = cap.version === 2 ? await importFileKey(await deriveVerifyKey(cap.key)) : undefined
  const open: Opener<Manifest> = verifyKey !== undefined
    ? async (sealed) => await openManifestV2(fileKey, verifyKey, cap.fileId, sealed)
    : async (sealed) => await openManifest(fileKey, cap.fileId, sealed)
  return await fetchSealedManifest(ports, cap, open, options)
}

/**
 * Fetches what a verify or read capability may see of a file: its fragments, holders and roots.
 * A version-1 verify capability carries no key and opens nothing: `CapabilityError`.
 */
export async function fetchVerifyManifest (ports: GridPorts, cap: Capability, options: AbortOptions = {}): Promise<OpenedManifest<VerifyManifest>> {
  if (cap.kind === 'read') return await fetchManifest(ports, cap, options)
  if (cap.verifyKey === undefined) {
    throw new CapabilityError('a version-1 verify link opens nothing; check or repair this file with its read link')
  }
  const verifyKey = await importFileKey(cap.verifyKey)
  return await fetchSealedManifest(ports, cap, async (sealed) => await openVerifyManifest(verifyKey, cap.fileId, sealed), options)
}

/**
 * Fetches the manifest a capability names and opens it with `open`. Holders are tried in turn; the
 * bytes must hash to the capability's manifest id, then decrypt under its key (`AuthenticationError`
 * otherwise); both sealing formats open (`openManifest`), so links made before the nonce moved into
 * the sealed bytes still work.
 * When every holder answered but none with bytes that hash to the id, the manifest was changed
 * everywhere: that is an `AuthenticationError` too, not an availability problem to retry later.
 */
async function fetchSealedManifest<M extends VerifyManifest> (ports: GridPorts, cap: Capability, open: Opener<M>, options: AbortOptions): Promise<OpenedManifest<M>> {
  const listed = new Map((await ports.directory.list(options).catch(() => [])).map(f => [f.peerId, f.addrs]))
  const tried: Array<{ peerId: string, error: string }> = []
  const ctl = new AbortController()
  const signal = options.signal === undefined ? ctl.signal : AbortSignal.any([ctl.signal, options.signal])
  const fromHolder = async (peerId: string): Promise<OpenedManifest<M>> => {
    const sealed = await ports.transport.get({ peerId, addrs: listed.get(peerId) ?? [] }, cap.manifestId, { signal })
    if (await sha256Hex(sealed) !== cap.manifestId) throw new ManifestHashMismatchError()
    const manifest = await open(sealed)
    if (manifest.fileId !== toHex(cap.fileId)) throw new Error('manifest names another file')
    const resolve = (id: string): FarmerRef => ({ peerId: id, addrs: listed.get(id) ?? manifest.farmers[id] ?? [] })
    return { manifest, resolve }
  }
  // Holders are asked in order; one that fails hands over at once, and one that is still silent
  // after MANIFEST_HEDGE_MS is joined by the next (a hedged request), so a stalled holder cannot
  // hold the download up until its timeout. The first manifest that authenticates wins.
  return await new Promise<OpenedManifest<M>>((resolve, reject) => {
    let next = 0
    let running = 0
    let settled = false
    let timer: ReturnType<typeof setTimeout> | undefined
    const finish = (fn: () => void): void => {
      settled = true
      clearTimeout(timer)
      ctl.abort()
      fn()
    }
    const unavailable = (): Error => tried.length > 0 && tried.every(t => CHANGED.has(t.error))
      ? new AuthenticationError('manifest')
      : tried.length > 0 && tried.every(t => t.error === 'NOT_FOUND')
        ? new FileNotFoundError(tried)
        : new ManifestUnavailableError(tried)
    // When every holder the link names has failed, the directory's farmers are asked who has a
    // copy (`repair` may have put one elsewhere), once.
    const holders = [...cap.holders]
    let lookedUp = false
    const exhausted = (): void => {
      if (lookedUp || options.signal?.aborted === true) { finish(() => { reject(options.signal?.aborted === true ? new AbortError() : unavailable()) }); return }
      lookedUp = true
      void discoverHolders(ports, [cap.manifestId], options).catch(() => ({ found: new Map<string, string[]>() })).then(({ found }) => {
        if (settled) return
        holders.push(...(found.get(cap.manifestId) ?? []).filter(p => !holders.includes(p)))
        if (next < holders.length) launch(); else exhausted()
      })
    }
    const launch = (): void => {
      clearTimeout(timer)
      if (settled || next >= holders.length) return
      const peerId = holders[next++]!
      running++
      timer = setTimeout(launch, MANIFEST_HEDGE_MS)
      fromHolder(peerId).then(opened => { if (!settled) finish(() => { resolve(opened) }) }, (err: unknown) => {
        running--
        if (settled) return
        if (options.signal?.aborted === true) { finish(() => { reject(new AbortError()) }); return }
        if ((err as Error).name === 'AuthenticationError') { finish(() => { reject(err) }); return }
        tried.push({ peerId, error: describe(err) })
        if (next < holders.length) launch()
        else if (running === 0) exhausted()
      })
    }
    if (holders.length === 0) exhausted()
    else launch()
  })
}

/** How long a manifest holder may stay silent before the next one is asked as well. */
const MANIFEST_HEDGE_MS = 1_000

/** What a holder answers when the bytes it has are not the ones stored: changed since. */
const CHANGED = new Set(['HASH_MISMATCH', 'CORRUPT_FRAGMENT'])
