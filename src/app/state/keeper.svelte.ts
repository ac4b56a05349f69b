/**
 * "Keep safe": hands a file to a keeper the person names (its `--http` address), with a delegation
 * signed here by the file's owner key, so the keeper's repairs and renewals stay claims the owner
 * deletes (docs/keeper.md). The address is remembered in this browser; `npm start`'s keeper is
 * offered first (`/grid.json` `keeper`). While My files is open, the keeper's view of each file
 * (`GET /files`: last audit, health per segment) is polled, every request with a deadline.
 */
import { formatCapability, parseCapability, verifyCapability } from '../../core/capability.ts'
import { signDelegation } from '../../core/delegation.ts'
import { fromBase64, ownerKeyFromSeed } from '../../core/owner-key.ts'
import type { OwnedFile } from '../../client/owner-index.ts'
import { errorOf, type HumanError } from '../lib/handle-error.ts'

/** Where the keeper's address is remembered. */
const KEEPER_KEY = 'shardfarm.keeper'
/** Deadline of one request to the keeper. */
export const KEEPER_REQUEST_MS = 10_000
/** How often an open My files asks the keeper how the files are. */
export const KEEPER_POLL_MS = 5_000
/** How long a delegation the page signs lasts (farmers accept at most 400 days). */
export const DELEGATION_DAYS = 365
/** Largest answer read from a keeper (its `/files` for a few thousand files). */
const MAX_ANSWER_BYTES = 4 * 1024 * 1024

/** One file as the keeper shows it (`GET /files`). */
export interface KeeperFile {
  manifestId: string
  key: 'owner' | 'delegated' | 'keeper'
  lastAuditAt?: number
  /** `onFull`: the proven copies at positions kept on full farmers, what the threshold is measured against (older keepers leave it out). */
  segments: Array<{ proven: number, onFull?: number, threshold: number, k: number }>
  lastRepair?: { at: number, fragmentsStored: number, complete: boolean }
}

/** A keeper's address has to be an http(s) URL; anything else is refused before any request. */
class KeeperAddressError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'KeeperAddressError'
  }
}

/** The keeper's base URL from what a person typed; throws `KeeperAddressError`. */
export function keeperUrl (text: string): URL {
  let u: URL
  try { u = new URL(text.trim()) } catch { throw new KeeperAddressError('A keeper address looks like http://127.0.0.1:7070') }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new KeeperAddressError('A keeper address starts with http:// or https://')
  if (u.username !== '' || u.password !== '') throw new KeeperAddressError('A keeper address carries no user name or password')
  return new URL(u.origin)
}

async function call (base: URL, path: string, init: RequestInit = {}): Promise<unknown> {
  const res = await fetch(new URL(path, base), { ...init, credentials: 'omit', signal: AbortSignal.timeout(KEEPER_REQUEST_MS) })
  const text = await res.text()
  if (text.length > MAX_ANSWER_BYTES) throw new Error('The keeper answered too much')
  let body: { message?: string } | undefined
  try { body = JSON.parse(text) as { message?: string } } catch { body = undefined }
  if (!res.ok) throw new Error(`The keeper refused: ${String(body?.message ?? res.status).slice(0, 200)}`)
  return body
}

export class Keepers {
  /** The keeper address the person gave (or the local grid's), as typed. */
  address = $state('')
  /** The keeper's view of each file it keeps, by manifest id. */
  files = $state<Record<string, KeeperFile>>({})
  /** When the keeper last answered `/files`. */
  polledAt = $state<number | undefined>(undefined)
  /** Per file: a hand-over in progress, or its error. */
  busy = $state<Record<string, boolean>>({})
  errors = $state<Record<string, HumanError>>({})

  constructor () {
    this.address = globalThis.localStorage?.getItem(KEEPER_KEY) ?? ''
  }

  /** Offers the local grid's keeper when the person has named none. */
  async prefill (): Promise<void> {
    if (this.address !== '') return
    try {
      const res = await fetch('/grid.json', { cache: 'no-store', signal: AbortSignal.timeout(KEEPER_REQUEST_MS) })
      const grid = await res.json() as { keeper?: unknown }
      if (typeof grid.keeper === 'string' && this.address === '') this.address = keeperUrl(grid.keeper).origin
    } catch {
      // no local grid, or an older one without a keeper: the person types an address
    }
  }

  /**
   * Gives `f` to the keeper at `address`: fetches its key, signs a delegation for this file with
   * the owner key (which never leaves the page), and posts the file's verify link with it.
   */
  async keepSafe (f: OwnedFile, address = this.address): Promise<void> {
    this.busy[f.manifestId] = true
    delete this.errors[f.manifestId]
    try {
      const base = keeperUrl(address)
      this.address = base.origin
      globalThis.localStorage?.setItem(KEEPER_KEY, base.origin)
      const { key } = await call(base, '/key') as { key?: unknown }
      if (typeof key !== 'string') throw new Error('The keeper did not name its key')
      const owner = await ownerKeyFromSeed(fromBase64(f.ownerSeed))
      const delegation = await signDelegation(owner, key, f.manifestId, Date.now() + DELEGATION_DAYS * 24 * 3600_000)
      // The verify link is enough to audit and repair: the read key stays here.
      const link = formatCapability(await verifyCapability(parseCapability(f.link)))
      await call(base, '/keep', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ link, delegation }) })
      await this.poll()
    } catch (err) {
      const e = errorOf(err).error
      if (e !== undefined) this.errors[f.manifestId] = e
    } finally {
      delete this.busy[f.manifestId]
    }
  }

  /** Asks the keeper once how the files are. */
  async poll (): Promise<void> {
    if (this.address === '') return
    const { files } = await call(keeperUrl(this.address), '/files') as { files?: unknown }
    if (!Array.isArray(files)) return
    const next: Record<string, KeeperFile> = {}
    for (const e of files.slice(0, 20_000) as KeeperFile[]) if (typeof e?.manifestId === 'string') next[e.manifestId] = e
    this.files = next
    this.polledAt = Date.now()
  }

  /** Polls every `KEEPER_POLL_MS` until the returned function is called (the view closing). */
  watch (): () => void {
    let stopped = false
    const tick = async (): Promise<void> => {
      if (stopped) return
      await this.poll().catch(() => {}) // a keeper that is down shows its last known view
      if (!stopped) timer = setTimeout(() => { void tick() }, KEEPER_POLL_MS)
    }
    let timer: ReturnType<typeof setTimeout> | undefined
    void tick()
    return () => { stopped = true; clearTimeout(timer) }
  }
}

/** The worst segment's state in words, for a row. */
export function keptHealth (f: KeeperFile): 'healthy' | 'repairing' | 'at risk' | 'unknown' {
  if (f.segments.length === 0) return 'unknown'
  if (f.segments.some(s => s.proven < s.k)) return 'at risk'
  if (f.segments.some(s => (s.onFull ?? s.proven) <= s.threshold)) return 'repairing'
  return 'healthy'
}

export const keepers = new Keepers()
