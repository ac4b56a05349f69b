import { parseCapability, type Capability } from '../../core/capability.ts'
import type { Manifest } from '../../core/manifest.ts'
import { fetchManifest, type OpenedManifest } from '../../client/blocks/open-manifest.ts'
import { Download, type DownloadProgress } from '../../client/ops/download.ts'
import { handleError, type HumanError } from '../lib/handle-error.ts'
import { previewKind, savedType, type PreviewKind } from '../lib/preview.ts'
import { openSink, pickedSink, savePicker, sweep, type DownloadSink } from '../lib/download-sink.ts'
import { session } from './session.svelte.ts'

/** Previewable files up to this size are fetched as soon as the link opens. */
const AUTO_PREVIEW = 16 * 1024 * 1024
/** How long a saved file outlives its link in the page (see `reset`). */
const HANDOVER_GRACE_MS = 10 * 60_000

export type DownloadStatus = 'idle' | 'opening' | 'ready' | 'downloading' | 'done' | 'failed'

/**
 * Opening a share link: read the manifest (name, size, policy), then on request stream the file
 * into the origin-private file system (disk, not memory) and hand it to the browser as a download.
 */
export class DownloadState {
  status = $state<DownloadStatus>('idle')
  manifest = $state<Manifest | undefined>(undefined)
  progress = $state(0)
  /** Bytes written per second so far, and the seconds left at that rate (once measurable). */
  rate = $state<number | undefined>(undefined)
  eta = $state<number | undefined>(undefined)
  /** The name of the file the person chose in the save dialog, once the bytes are there. */
  savedAs = $state<string | undefined>(undefined)
  error = $state<HumanError | undefined>(undefined)
  /** The holders the open link names (to tell a link from another grid). */
  holders = $state<string[]>([])
  url = $state<string | undefined>(undefined)
  /** How the finished file shows in the page (images, audio, video, PDFs of modest size). */
  preview = $state<PreviewKind | undefined>(undefined)
  #cap: Capability | undefined
  #opened: OpenedManifest | undefined
  #ctl: AbortController | undefined
  /** The finished download's file, removed when another link opens. */
  #sink: DownloadSink | undefined
  /** Bumped by every open, save, cancel and reset: late results of an older one are dropped. */
  #turn = 0
  /** The person clicked Save: the browser may still be copying the file when another link opens. */
  #handedOver = false

  async open (link: string): Promise<void> {
    this.reset()
    void sweep().catch(() => {}) // downloads left behind by closed tabs
    const turn = this.#turn
    this.status = 'opening'
    try {
      const cap = parseCapability(link)
      this.holders = cap.holders
      const opened = await fetchManifest(await session.connectedPorts(), cap)
      if (turn !== this.#turn) return
      this.#cap = cap
      this.#opened = opened
      this.manifest = opened.manifest
      this.status = 'ready'
      // A small picture, song, clip or PDF opens as people expect a shared one to: shown at once.
      if (previewKind(this.manifest.mime, this.manifest.size) !== undefined && this.manifest.size <= AUTO_PREVIEW) void this.save()
    } catch (err) {
      if (turn === this.#turn) this.#fail(err)
    }
  }

  /**
   * The Download button: where the browser has a save dialog (File System Access API), asks where
   * to save and streams the file there, one click in all; elsewhere downloads into the page's
   * storage and offers Save (`save`). Closing the dialog changes nothing.
   */
  async download (): Promise<void> {
    const pick = savePicker()
    if (pick === undefined || this.manifest === undefined) { await this.save(); return }
    let handle: FileSystemFileHandle
    try {
      // Called straight from the click: the dialog needs the click's user activation.
      handle = await pick({ suggestedName: this.manifest.name || 'shardfarm-file' })
    } catch (err) {
      if ((err as { name?: string }).name === 'AbortError') return // the person closed the dialog
      await this.save() // a dialog refused (a policy, an iframe): the two-step way still works
      return
    }
    await this.save(handle)
  }

  /** Downloads the file: into `handle` (chosen in the save dialog), else into the page's storage. */
  async save (handle?: FileSystemFileHandle): Promise<void> {
    if (this.#cap === undefined || this.#opened === undefined || this.manifest === undefined) return
    const turn = ++this.#turn
    const m = this.manifest
    this.status = 'downloading'
    this.progress = 0
    this.rate = undefined
    this.eta = undefined
    const ctl = this.#ctl = new AbortController()
    let sink: DownloadSink | undefined
    try {
      sink = handle !== undefined ? await pickedSink(handle) : await openSink(m.name || 'shardfarm-file')
      const dl = new Download(session.ports(), this.#cap, { signal: ctl.signal, opened: this.#opened })
      const t0 = performance.now()
      dl.addEventListener('progress', e => {
        const p = (e as CustomEvent<DownloadProgress>).detail
        if (turn !== this.#turn) return
        this.progress = p.total === 0 ? 1 : p.written / p.total
        const seconds = (performance.now() - t0) / 1000
        this.rate = seconds > 0.5 && p.written > 0 ? p.written / seconds : undefined
        this.eta = this.rate === undefined ? undefined : (p.total - p.written) / this.rate
      })
      const out = sink
      await dl.run(async chunk => { await out.write(chunk) })
      const file = await sink.close()
      if (turn !== this.#turn) { await sink.discard(); return } // cancelled, or another link opened meanwhile
      if (handle !== undefined) {
        // Already where the person wanted it: nothing to hand over, and nothing of ours to remove later.
        this.savedAs = handle.name
        this.preview = previewKind(m.mime, m.size)
        if (this.preview !== undefined) this.url = URL.createObjectURL(new Blob([file], { type: savedType(m.mime, m.size) }))
        this.status = 'done'
        this.progress = 1
        return
      }
      this.#sink = sink
      // A blob of a blob is a reference, not a copy: the bytes stay in the file on disk.
      this.url = URL.createObjectURL(new Blob([file], { type: savedType(m.mime, m.size) }))
      this.preview = previewKind(m.mime, m.size)
      this.status = 'done'
      this.progress = 1
    } catch (err) {
      await sink?.discard()
      if (turn === this.#turn) this.#fail(err)
    }
  }

  cancel (): void {
    this.#turn++
    this.#ctl?.abort()
    this.status = 'ready'
  }

  /** The Save link was clicked: the browser is copying the file out of the page's storage. */
  handedOver (): void {
    this.#handedOver = true
  }

  /**
   * Forgets the open link: stops its download and removes the downloaded file from disk. A file
   * the person clicked Save on stays (under its lock) for HANDOVER_GRACE_MS first, so a large copy
   * into their Downloads folder is not cut off by opening the next link; if the tab closes before,
   * the next page's sweep removes it.
   */
  reset (): void {
    this.#turn++
    this.#ctl?.abort()
    const url = this.url
    const sink = this.#sink
    const retire = (): void => {
      if (url !== undefined) URL.revokeObjectURL(url)
      void sink?.discard()
    }
    if (this.#handedOver && sink !== undefined) setTimeout(retire, HANDOVER_GRACE_MS)
    else retire()
    this.#handedOver = false
    this.#sink = undefined
    this.status = 'idle'; this.manifest = undefined; this.progress = 0; this.error = undefined; this.url = undefined; this.preview = undefined
    this.rate = undefined; this.eta = undefined; this.savedAs = undefined; this.holders = []
    this.#opened = undefined; this.#cap = undefined
  }

  #fail (err: unknown): void {
    const h = handleError(err)
    if (h === undefined) return
    this.error = h
    this.status = 'failed'
  }
}

export const download = new DownloadState()
