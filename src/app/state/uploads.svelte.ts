import { parseCapability } from '../../core/capability.ts'
import { toBase64 } from '../../core/owner-key.ts'
import { blobSource } from '../../client/adapters/blob-source.ts'
import type { JobStore, UploadJobRecord } from '../../client/job-store.ts'
import { UploadJob, type UploadProgress } from '../../client/ops/upload.ts'
import { browserJobStore } from '../../client/session.browser.ts'
import { MemoryKeyValueStore } from '../../stores/kv/memory.ts'
import { appStore } from '../lib/app-store.ts'
import { takeLegacyOutbox } from '../lib/legacy-outbox.ts'
import { errorOf, handleError, type HumanError } from '../lib/handle-error.ts'
import { placementRows, type PlacementRow } from '../lib/placement-rows.ts'
import { files } from './files.svelte.ts'
import { session } from './session.svelte.ts'

/** An upload with no progress for this long when the grid goes offline moves to the outbox. */
const STALLED_MS = 5000
/** Failed uploads whose files are kept for Retry. */
const MAX_RETAINED = 20

export type UploadStatus = 'sealing' | 'uploading' | 'queued' | 'sending' | 'done' | 'failed' | 'cancelled'

export interface UploadItem {
  key: string
  name: string
  size: number
  policy: string
  status: UploadStatus
  /** 0..1 */
  progress: number
  link?: string
  error?: HumanError
  /** Bytes of the file stored per second so far, and the seconds left at that rate. */
  rate?: number
  eta?: number
  placement?: PlacementRow[]
}

/**
 * Uploads in this page, as state. Each is an `UploadJob`. Online, a file streams straight to the
 * grid (its job kept in memory: a File cannot be read again after a reload). Offline (or with no
 * grid in reach) it is sealed into the outbox, jobs in IndexedDB that keep their fragments, which
 * drains when the grid is back: on the `online` event, on Background Sync where the browser has it,
 * on page load, and with backoff.
 */
export class Uploads {
  items = $state<UploadItem[]>([])
  readonly #running = new Map<string, AbortController>()
  /** The files of failed uploads, for Retry (a File cannot be picked again by the page); at most MAX_RETAINED. */
  readonly #failedFiles = new Map<string, File>()
  #outbox: Promise<JobStore> | undefined
  #draining = false
  #retryMs = 2000
  #retryTimer: ReturnType<typeof setTimeout> | undefined

  outbox (): Promise<JobStore> {
    this.#outbox ??= appStore().then(browserJobStore).then(async jobs => {
      // An earlier version's queued uploads; on a failure they stay in its database for the next load.
      await takeLegacyOutbox(jobs).catch(() => {})
      return jobs
    })
    return this.#outbox
  }

  /** Shows queued jobs from earlier visits and tries to send them. */
  async restore (): Promise<void> {
    const outbox = await this.outbox()
    for (const j of await outbox.listJobs()) {
      if (j.state === 'published' && j.link !== undefined) {
        // Sent, but the tab closed before the file was listed: list it now.
        await files.add({ manifestId: parseCapability(j.link).manifestId, name: j.name, size: j.size, link: j.link, policy: j.policy.name, ownerSeed: j.ownerSeedB64, createdAt: j.createdAt })
        await outbox.deleteJob(j.id)
      } else if (!j.keeps || j.state === 'sealing' || j.state === 'failed' || j.state === 'cancelled') {
        // A tab closed (or a failure) while sealing leaves a partial job whose File is gone: it cannot be finished.
        await outbox.deleteJob(j.id)
      } else this.#upsert(itemOfJob(j))
    }
    globalThis.addEventListener?.('online', () => { void this.drain() })
    // The relay answers again (the session's liveness ping): send at once rather than at the next backoff.
    session.onStatus(status => { if (status === 'online') void this.drain() })
    navigator.serviceWorker?.addEventListener('message', e => { if ((e.data as { type?: string })?.type === 'shardfarm-sync') void this.drain() })
    void this.drain()
  }

  /**
   * Uploads `file`. With the grid out of reach (the session says offline, or the browser does and
   * no grid answered yet) it goes to the outbox at once; if the grid goes away mid-upload, too.
   */
  async add (file: File, policy: string): Promise<void> {
    const key = `${Date.now()}-${Math.random().toString(36).slice(2)}`
    await this.#start(key, file, policy)
  }

  async #start (key: string, file: File, policy: string): Promise<void> {
    const item: UploadItem = { key, name: file.name, size: file.size, policy, status: 'uploading', progress: 0 }
    this.#upsert(item)
    const offline = session.status === 'offline' || (globalThis.navigator?.onLine === false && session.status !== 'online')
    if (offline || !await session.connect()) {
      await this.#seal(key, file, policy)
      return
    }
    const ctl = new AbortController()
    this.#running.set(key, ctl)
    // The grid went away: stop streaming and keep the file in the outbox instead. An upload still
    // storing fragments is left to finish (or to fail, and then go to the outbox): it is the proof
    // that the farmers are there.
    let lost = false
    let progressed = 0
    const unwatch = session.onStatus(status => {
      if (status === 'offline' && performance.now() - progressed > STALLED_MS) { lost = true; ctl.abort() }
    })
    try {
      const source = blobSource(file)
      const job = await UploadJob.open(browserJobStore(new MemoryKeyValueStore()), { size: source.size, policy, name: file.name, mime: file.type || 'application/octet-stream' })
      const t0 = performance.now()
      job.addEventListener('progress', e => {
        const p = (e as CustomEvent<UploadProgress>).detail
        progressed = performance.now()
        const seconds = (performance.now() - t0) / 1000
        const rate = seconds > 0.5 && p.stored > 0 ? p.stored / seconds : undefined
        this.#patch(key, { progress: p.total === 0 ? 1 : p.stored / p.total, rate, eta: rate === undefined ? undefined : (p.total - p.stored) / rate })
      })
      const r = await job.run(session.ports(), source, { signal: ctl.signal })
      await files.add({ manifestId: r.capability.manifestId, name: file.name, size: file.size, link: r.link, policy, ownerSeed: toBase64(r.ownerSeed), createdAt: r.manifest.createdAt, ...(r.strayCopies.length > 0 ? { copies: r.strayCopies } : {}) })
      this.#patch(key, { status: 'done', progress: 1, link: r.link, eta: 0, placement: placementRows(r.manifest.segments.map(s => s.holders), session.farmers) })
    } catch (err) {
      if (lost) { this.#running.delete(key); await this.#seal(key, file, policy); return }
      if (ctl.signal.aborted) { this.#patch(key, { status: 'cancelled', rate: undefined, eta: undefined }); return }
      // Lost the grid mid-upload: keep the file safe in the outbox instead of failing.
      if (handleError(err) !== undefined && !await session.probe()) { this.#running.delete(key); await this.#seal(key, file, policy); return }
      this.#keepForRetry(key, file)
      this.#patch(key, { status: 'failed', rate: undefined, eta: undefined, ...errorOf(err) })
    } finally {
      unwatch()
      this.#running.delete(key)
    }
  }

  /** Whether a failed upload can be tried again (this page still holds its file). */
  retryable (key: string): boolean {
    return this.#failedFiles.has(key)
  }

  /** Tries a failed upload again, with `policy` (the same one or another). */
  async retry (key: string, policy: string): Promise<void> {
    const file = this.#failedFiles.get(key)
    if (file === undefined) return
    this.#failedFiles.delete(key)
    await this.#start(key, file, policy)
  }

  /** Takes a finished row away (failed, cancelled, or stored and since deleted); the page forgets its file. */
  dismiss (key: string): void {
    this.#failedFiles.delete(key)
    this.#remove(key)
  }

  #keepForRetry (key: string, file: File): void {
    this.#failedFiles.set(key, file)
    // Oldest first out: a page that fails many uploads keeps references to a bounded number of files.
    while (this.#failedFiles.size > MAX_RETAINED) this.#failedFiles.delete(this.#failedFiles.keys().next().value!)
  }

  /** Stops an upload in progress. What it already stored stays unreferenced on the farmers. */
  cancel (key: string): void {
    this.#running.get(key)?.abort()
  }

  /** Whether `key` is an upload this page can still cancel. */
  cancellable (key: string): boolean {
    return this.#running.has(key)
  }

  async #seal (key: string, file: File, policy: string): Promise<void> {
    this.#patch(key, { status: 'sealing', progress: 0, rate: undefined, eta: undefined, error: undefined })
    try {
      const source = blobSource(file)
      const job = await UploadJob.open(await this.outbox(), { size: source.size, policy, name: file.name, mime: file.type || 'application/octet-stream' })
      job.addEventListener('progress', e => { const p = (e as CustomEvent<UploadProgress>).detail; this.#patch(key, { progress: p.total === 0 ? 1 : p.stored / p.total }) })
      await job.seal({ coder: session.coder }, source)
      this.#remove(key)
      this.#upsert(itemOfJob(job.record))
      void (navigator.serviceWorker?.ready.then(async r => await (r as unknown as { sync?: { register: (t: string) => Promise<void> } }).sync?.register('shardfarm-outbox')).catch(() => {}))
      this.#scheduleRetry()
    } catch (err) {
      this.#keepForRetry(key, file)
      this.#patch(key, { status: 'failed', ...errorOf(err) })
    }
  }

  /** Sends every queued job; on failure, retries later with backoff (2 s doubling to 30 s). */
  async drain (): Promise<void> {
    if (this.#draining) return
    this.#draining = true
    try {
      const outbox = await this.outbox()
      const queued = (await outbox.listJobs()).filter(j => j.keeps && (j.state === 'queued' || j.state === 'sending'))
      if (queued.length === 0) return
      if (!await session.connect()) { this.#scheduleRetry(); return }
      for (const job of queued) {
        this.#patch(job.id, { status: 'sending' })
        try {
          const sending = (await UploadJob.load(outbox, job.id))!
          sending.addEventListener('progress', e => { const p = (e as CustomEvent<UploadProgress>).detail; this.#patch(job.id, { progress: p.total === 0 ? 1 : p.stored / p.total }) })
          const r = await sending.send(session.ports())
          await files.add({ manifestId: r.capability.manifestId, name: job.name, size: job.size, link: r.link, policy: job.policy.name, ownerSeed: job.ownerSeedB64, createdAt: job.createdAt, ...(r.strayCopies.length > 0 ? { copies: r.strayCopies } : {}) })
          await sending.forget()
          this.#patch(job.id, { status: 'done', progress: 1, link: r.link })
          this.#retryMs = 2000
        } catch (err) {
          this.#patch(job.id, { status: 'queued', ...errorOf(err) })
          this.#scheduleRetry()
        }
      }
    } finally {
      this.#draining = false
    }
  }

  #scheduleRetry (): void {
    clearTimeout(this.#retryTimer)
    this.#retryTimer = setTimeout(() => { void this.drain() }, this.#retryMs)
    this.#retryMs = Math.min(30_000, this.#retryMs * 2)
  }

  #upsert (item: UploadItem): void {
    const i = this.items.findIndex(x => x.key === item.key)
    if (i >= 0) this.items[i] = item
    else this.items.unshift(item)
  }

  #patch (key: string, patch: Partial<UploadItem>): void {
    const i = this.items.findIndex(x => x.key === key)
    if (i >= 0) this.items[i] = { ...this.items[i]!, ...patch }
  }

  #remove (key: string): void {
    this.items = this.items.filter(x => x.key !== key)
  }
}

function itemOfJob (j: UploadJobRecord): UploadItem {
  const item: UploadItem = { key: j.id, name: j.name, size: j.size, policy: j.policy.name, status: j.state === 'published' ? 'done' : j.state === 'sealing' ? 'sealing' : 'queued', progress: 0 }
  if (j.link !== undefined) item.link = j.link
  return item
}

export const uploads = new Uploads()
