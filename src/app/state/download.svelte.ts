import { parseCapability, type Capability } from '../../core/capability.ts'
import type { Manifest } from '../../core/manifest.ts'
import { Download, fetchManifest, type DownloadProgress, type OpenedManifest } from '../../client/download.ts'
import { handleError, type HumanError } from '../lib/handle-error.ts'
import { previewKind, savedType, type PreviewKind } from '../lib/preview.ts'
import { session } from './session.svelte.ts'

/** Previewable files up to this size are fetched as soon as the link opens. */
const AUTO_PREVIEW = 16 * 1024 * 1024

export type DownloadStatus = 'idle' | 'opening' | 'ready' | 'downloading' | 'done' | 'failed'

/**
 * Opening a share link: read the manifest (name, size, policy), then on request stream the file
 * into the origin-private file system (disk, not memory) and hand it to the browser as a download.
 */
export class DownloadState {
  status = $state<DownloadStatus>('idle')
  manifest = $state<Manifest | undefined>(undefined)
  progress = $state(0)
  error = $state<HumanError | undefined>(undefined)
  url = $state<string | undefined>(undefined)
  /** How the finished file shows in the page (images, audio, video, PDFs of modest size). */
  preview = $state<PreviewKind | undefined>(undefined)
  #cap: Capability | undefined
  #opened: OpenedManifest | undefined
  #ctl: AbortController | undefined

  async open (link: string): Promise<void> {
    this.reset()
    this.status = 'opening'
    try {
      this.#cap = parseCapability(link)
      this.#opened = await fetchManifest(await session.connectedPorts(), this.#cap)
      this.manifest = this.#opened.manifest
      this.status = 'ready'
      // A small picture, song, clip or PDF opens as people expect a shared one to: shown at once.
      if (previewKind(this.manifest.mime, this.manifest.size) !== undefined && this.manifest.size <= AUTO_PREVIEW) void this.save()
    } catch (err) {
      this.#fail(err)
    }
  }

  async save (): Promise<void> {
    if (this.#cap === undefined || this.#opened === undefined || this.manifest === undefined) return
    this.status = 'downloading'
    this.#ctl = new AbortController()
    const name = this.manifest.name || 'shardfarm-file'
    try {
      const sink = await openSink(name)
      const dl = new Download(session.ports(), this.#cap, { signal: this.#ctl.signal, opened: this.#opened })
      dl.addEventListener('progress', e => {
        const p = (e as CustomEvent<DownloadProgress>).detail
        this.progress = p.total === 0 ? 1 : p.written / p.total
      })
      await dl.run(async chunk => { await sink.write(chunk) })
      const file = await sink.close()
      // A blob of a blob is a reference, not a copy: the bytes stay in the file on disk.
      this.url = URL.createObjectURL(new Blob([file], { type: savedType(this.manifest.mime, this.manifest.size) }))
      this.preview = previewKind(this.manifest.mime, this.manifest.size)
      this.status = 'done'
      this.progress = 1
    } catch (err) {
      this.#fail(err)
    }
  }

  cancel (): void {
    this.#ctl?.abort()
    this.status = 'ready'
  }

  reset (): void {
    if (this.url !== undefined) URL.revokeObjectURL(this.url)
    this.status = 'idle'; this.manifest = undefined; this.progress = 0; this.error = undefined; this.url = undefined; this.preview = undefined
    this.#opened = undefined
  }

  #fail (err: unknown): void {
    const h = handleError(err)
    if (h === undefined) return
    this.error = h
    this.status = 'failed'
  }
}

interface Sink { write: (b: Uint8Array) => Promise<void>, close: () => Promise<Blob> }

/** Streams to OPFS where available (memory stays flat for any size); else collects a Blob. */
async function openSink (name: string): Promise<Sink> {
  const storage = navigator.storage as StorageManager & { getDirectory?: () => Promise<FileSystemDirectoryHandle> }
  if (typeof storage?.getDirectory === 'function') {
    const dir = await storage.getDirectory()
    const fh = await dir.getFileHandle(`download-${Date.now()}-${name.replace(/[^\w.-]/g, '_')}`, { create: true })
    const w = await (fh as FileSystemFileHandle & { createWritable: () => Promise<FileSystemWritableFileStream> }).createWritable()
    return {
      write: async b => { await w.write(b as Uint8Array<ArrayBuffer>) },
      close: async () => { await w.close(); return await fh.getFile() }
    }
  }
  const parts: Uint8Array[] = []
  return { write: async b => { parts.push(b.slice()) }, close: async () => new Blob(parts as Uint8Array<ArrayBuffer>[]) }
}

export const download = new DownloadState()
