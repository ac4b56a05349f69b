import { toBase64 } from '../../core/owner-key.ts'
import { Upload, type UploadProgress } from '../../client/upload.ts'
import { drainJob, sealToOutbox, type OutboxJob } from '../../client/outbox.ts'
import type { ByteSource } from '../../client/ports.ts'
import { IdbOutboxStore } from '../../stores/outbox-idb.ts'
import { errorOf, handleError, type HumanError } from '../lib/handle-error.ts'
import { placementRows, type PlacementRow } from '../lib/placement-rows.ts'
import { files } from './files.svelte.ts'
import { session } from './session.svelte.ts'

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

/** A browser `File` as a `ByteSource`: reads slices, never the whole file. */
export function fileSource (file: Blob): ByteSource {
  return { size: file.size, fresh: true, read: async (offset, length) => new Uint8Array(await file.slice(offset, offset + length).arrayBuffer()) }
}

/**
 * Uploads in this page. Online, a file streams straight to the grid. Offline (or with no grid in
 * reach) it is sealed into the IndexedDB outbox, which drains when the grid is back: on the
 * `online` event, on Background Sync where the browser has it, on page load, and with backoff.
 */
export class Uploads {
  items = $state<UploadItem[]>([])
  readonly #running = new Map<string, AbortController>()
  #outbox: Promise<IdbOutboxStore> | undefined
  #draining = false
  #retryMs = 2000
  #retryTimer: ReturnType<typeof setTimeout> | undefined

  outbox (): Promise<IdbOutboxStore> {
    this.#outbox ??= IdbOutboxStore.open()
    return this.#outbox
  }

  /** Shows queued jobs from earlier visits and tries to send them. */
  async restore (): Promise<void> {
    const outbox = await this.outbox()
    for (const j of await outbox.listJobs()) {
      // A tab closed while sealing leaves a partial job whose File is gone: it cannot be finished.
      if (j.status === 'sealing') await outbox.deleteJob(j.id)
      else if (j.status !== 'done') this.#upsert(itemOfJob(j))
    }
    globalThis.addEventListener?.('online', () => { void this.drain() })
    navigator.serviceWorker?.addEventListener('message', e => { if ((e.data as { type?: string })?.type === 'shardfarm-sync') void this.drain() })
    void this.drain()
  }

  async add (file: File, policy: string): Promise<void> {
    const key = `${Date.now()}-${Math.random().toString(36).slice(2)}`
    const item: UploadItem = { key, name: file.name, size: file.size, policy, status: 'uploading', progress: 0 }
    this.#upsert(item)
    const online = await session.connect()
    if (!online) {
      await this.#seal(key, file, policy)
      return
    }
    const ctl = new AbortController()
    this.#running.set(key, ctl)
    try {
      const up = new Upload(session.ports(), fileSource(file), { policy, name: file.name, mime: file.type || 'application/octet-stream', signal: ctl.signal })
      const t0 = performance.now()
      up.addEventListener('progress', e => {
        const p = (e as CustomEvent<UploadProgress>).detail
        const seconds = (performance.now() - t0) / 1000
        const rate = seconds > 0.5 && p.stored > 0 ? p.stored / seconds : undefined
        this.#patch(key, { progress: p.total === 0 ? 1 : p.stored / p.total, rate, eta: rate === undefined ? undefined : (p.total - p.stored) / rate })
      })
      const r = await up.run()
      await files.add({ manifestId: r.capability.manifestId, name: file.name, size: file.size, link: r.link, policy, ownerSeed: toBase64(r.ownerSeed), createdAt: r.manifest.createdAt })
      this.#patch(key, { status: 'done', progress: 1, link: r.link, eta: 0, placement: placementRows(r.manifest.segments.map(s => s.holders), session.farmers) })
    } catch (err) {
      if (ctl.signal.aborted) { this.#patch(key, { status: 'cancelled', rate: undefined, eta: undefined }); return }
      // Lost the grid mid-upload: keep the file safe in the outbox instead of failing.
      if (handleError(err) !== undefined && !await session.probe()) { await this.#seal(key, file, policy); return }
      this.#patch(key, { status: 'failed', ...errorOf(err) })
    } finally {
      this.#running.delete(key)
    }
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
    this.#patch(key, { status: 'sealing', progress: 0 })
    try {
      const job = await sealToOutbox(session.coder, await this.outbox(), fileSource(file), {
        policy, name: file.name, mime: file.type || 'application/octet-stream',
        onProgress: n => { this.#patch(key, { progress: file.size === 0 ? 1 : n / file.size }) }
      })
      this.#remove(key)
      this.#upsert(itemOfJob(job))
      void (navigator.serviceWorker?.ready.then(async r => await (r as unknown as { sync?: { register: (t: string) => Promise<void> } }).sync?.register('shardfarm-outbox')).catch(() => {}))
      this.#scheduleRetry()
    } catch (err) {
      this.#patch(key, { status: 'failed', ...errorOf(err) })
    }
  }

  /** Sends every queued job; on failure, retries later with backoff (2 s doubling to 30 s). */
  async drain (): Promise<void> {
    if (this.#draining) return
    this.#draining = true
    try {
      const outbox = await this.outbox()
      const queued = (await outbox.listJobs()).filter(j => j.status === 'queued' || j.status === 'sending')
      if (queued.length === 0) return
      if (!await session.connect()) { this.#scheduleRetry(); return }
      for (const job of queued) {
        this.#patch(job.id, { status: 'sending' })
        try {
          const r = await drainJob(session.ports(), outbox, job.id, { onProgress: (done, all) => { this.#patch(job.id, { progress: done / all }) } })
          await files.add({ manifestId: r.capability.manifestId, name: job.name, size: job.size, link: r.link, policy: job.policy.name, ownerSeed: job.ownerSeedB64, createdAt: job.createdAt })
          await outbox.deleteJob(job.id)
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

function itemOfJob (j: OutboxJob): UploadItem {
  const item: UploadItem = { key: j.id, name: j.name, size: j.size, policy: j.policy.name, status: j.status === 'done' ? 'done' : j.status === 'sealing' ? 'sealing' : 'queued', progress: 0 }
  if (j.link !== undefined) item.link = j.link
  return item
}

export const uploads = new Uploads()
