import { parseCapability } from '../../core/capability.ts'
import { fromBase64, ownerKeyFromSeed } from '../../core/owner-key.ts'
import type { SegmentHealth } from '../../client/blocks/fragment-health.ts'
import { deleteFile } from '../../client/ops/delete.ts'
import { renewFiles } from '../../client/ops/renew.ts'
import { Repair, type RepairResult } from '../../client/ops/repair.ts'
import { fileHealth } from '../../client/ops/stat.ts'
import { OwnerIndex, type OwnedFile } from '../../client/owner-index.ts'
import { errorOf, type HumanError } from '../lib/handle-error.ts'
import { appStore, takeLegacyDatabase } from '../lib/app-store.ts'
import { session } from './session.svelte.ts'

/** A file this browser put on the grid. The owner seed (delete right) never leaves this browser. */
export type MyFile = OwnedFile

/** Where versions before the app's one store kept the list: records keyed by `manifestId`. */
const LEGACY_DATABASE = 'shardfarm-files'

/** The owner index in the app's store, with the list of an earlier version taken over (once). */
async function openIndex (): Promise<OwnerIndex> {
  const index = new OwnerIndex(await appStore())
  await takeLegacyDatabase(LEGACY_DATABASE,
    async db => db.objectStoreNames.contains('files') ? await db.getAll('files') : [],
    async entries => { await index.importEntries(entries) })
  return index
}

/** What the page last learnt about one file on the grid (health check or delete). */
export interface FileCheck {
  busy: 'health' | 'delete' | 'repair' | undefined
  /** The last repair's outcome (followed by a fresh health check). */
  repaired?: RepairResult
  /** Per segment: fragments reachable out of k + m, and the verdict. */
  segments?: SegmentHealth[]
  k?: number
  m?: number
  /** After a delete that some farmers did not answer: how many fragments are left to remove. */
  leftOver?: number
  error?: HumanError
}

/** Deleted links remembered for the views (a page deletes few files; this only bounds the list). */
const MAX_DELETED = 100

/** The list of files uploaded from this browser, kept in the app's store (`OwnerIndex`). */
/** How often an open page renews the leases of its files (farmers keep unrenewed claims 30 days by default). */
export const RENEW_EVERY_MS = 6 * 3_600_000
/** How often an open page looks whether a renewal is due. */
const RENEW_CHECK_MS = 10 * 60_000

/** What the page's last lease renewal did. */
export interface RenewalSummary { at: number, files: number, farmers: number, renewed: number, unreachable: number }

export class Files {
  items = $state<MyFile[]>([])
  /** Health and delete results by manifest id. */
  checks = $state<Record<string, FileCheck>>({})
  /**
   * Links of the files deleted from the grid by this page, newest last (at most MAX_DELETED): every
   * view that shows a link drops it at once.
   */
  deleted = $state<string[]>([])
  /** The last deletion's confirmation, for the person who asked for it. */
  notice = $state<string | undefined>(undefined)
  /** The page's last renewal of its files' leases. */
  renewal = $state<RenewalSummary | undefined>(undefined)
  #renewedAt = 0
  #index: Promise<OwnerIndex> | undefined

  #open (): Promise<OwnerIndex> {
    if (this.#index === undefined) {
      const opening = openIndex()
      opening.catch(() => { if (this.#index === opening) this.#index = undefined }) // tried again on the next call
      this.#index = opening
    }
    return this.#index
  }

  async load (): Promise<void> {
    this.items = (await (await this.#open()).list()).reverse() // newest first
  }

  async add (f: MyFile): Promise<void> {
    await (await this.#open()).add(f)
    await this.load()
  }

  async remove (manifestId: string): Promise<void> {
    await (await this.#open()).remove(manifestId)
    await this.load()
  }

  /** Asks the file's farmers which fragments they still hold. */
  async checkHealth (f: MyFile): Promise<void> {
    this.checks[f.manifestId] = { busy: 'health' }
    try {
      const { manifest, segments } = await fileHealth(await session.connectedPorts(), parseCapability(f.link))
      this.checks[f.manifestId] = { busy: undefined, segments, k: manifest.policy.k, m: manifest.policy.m }
    } catch (err) {
      this.checks[f.manifestId] = { busy: undefined, ...errorOf(err) }
    }
  }

  /**
   * Rebuilds the fragments the file lost onto other farmers, and its manifest copies, then checks
   * its health again. Links to it keep working (see `Repair`).
   */
  async repair (f: MyFile): Promise<void> {
    const prev = this.checks[f.manifestId]
    this.checks[f.manifestId] = { ...prev, busy: 'repair' }
    try {
      const owner = await ownerKeyFromSeed(fromBase64(f.ownerSeed))
      const ports = await session.connectedPorts()
      const repaired = await new Repair(ports, parseCapability(f.link), owner).run()
      if (repaired.placed.length > 0) {
        await (await this.#open()).addCopies(f.manifestId, repaired.placed)
        await this.load()
      }
      const { manifest, segments } = await fileHealth(ports, parseCapability(f.link))
      this.checks[f.manifestId] = { busy: undefined, segments, k: manifest.policy.k, m: manifest.policy.m, repaired }
    } catch (err) {
      this.checks[f.manifestId] = { busy: undefined, ...errorOf(err) }
    }
  }

  /**
   * While the page is open, renews the leases on every file this browser put: once the grid is
   * reached, then every `RENEW_EVERY_MS`. Farmers drop claims not renewed within their lease, and
   * fragments nobody claims. Returns a function that stops it.
   */
  keepRenewing (): () => void {
    const due = (): void => { if (Date.now() - this.#renewedAt >= RENEW_EVERY_MS) void this.renewAll() }
    const off = session.onStatus(status => { if (status === 'online') due() })
    if (session.status === 'online') due()
    const timer = setInterval(due, RENEW_CHECK_MS)
    return () => { off(); clearInterval(timer) }
  }

  /** Renews the leases on every file this browser put, one signed RENEW per farmer and file. */
  async renewAll (): Promise<void> {
    this.#renewedAt = Date.now()
    let ports
    try {
      ports = await session.connectedPorts()
    } catch {
      this.#renewedAt = 0 // offline: due again at the next connection
      return
    }
    const summary: RenewalSummary = { at: Date.now(), files: 0, farmers: 0, renewed: 0, unreachable: 0 }
    for (const f of await (await this.#open()).list()) {
      const r = await renewFiles(ports, [parseCapability(f.link)], await ownerKeyFromSeed(fromBase64(f.ownerSeed))).catch(() => undefined)
      if (r === undefined) continue
      summary.files += r.files
      summary.farmers += r.farmersAsked
      summary.renewed += r.renewed
      summary.unreachable += r.unreachable.length
    }
    this.renewal = summary
  }

  /**
   * Removes the file from the grid with signed deletes (this browser holds the owner key), then
   * from the list. If some farmers do not answer, the file stays listed so that it can be tried again.
   */
  async deleteFromGrid (f: MyFile): Promise<void> {
    this.checks[f.manifestId] = { busy: 'delete' }
    this.notice = undefined
    try {
      const owner = await ownerKeyFromSeed(fromBase64(f.ownerSeed))
      const { failed } = await deleteFile(await session.connectedPorts(), parseCapability(f.link), owner, { copies: f.copies ?? [] })
      if (failed === 0) {
        delete this.checks[f.manifestId]
        this.deleted = [...this.deleted.slice(1 - MAX_DELETED), f.link]
        this.notice = `Deleted ${f.name || 'the file'} from the grid: its fragments are gone and its link no longer opens.`
        await this.remove(f.manifestId)
      } else {
        this.checks[f.manifestId] = { busy: undefined, leftOver: failed }
      }
    } catch (err) {
      this.checks[f.manifestId] = { busy: undefined, ...errorOf(err) }
    }
  }
}

export const files = new Files()
