import { openDB, type IDBPDatabase } from 'idb'
import { parseCapability } from '../../core/capability.ts'
import { fromBase64, ownerKeyFromSeed } from '../../core/owner-key.ts'
import { deleteFile, fileHealth, repairFile, type RepairResult, type SegmentHealth } from '../../client/file-ops.ts'
import { errorOf, type HumanError } from '../lib/handle-error.ts'
import { session } from './session.svelte.ts'

/** A file this browser put on the grid. The owner seed (delete right) never leaves this browser. */
export interface MyFile {
  manifestId: string
  name: string
  size: number
  link: string
  policy: string
  ownerSeed: string
  createdAt: number
  /** Where repairs put copies (see `RepairResult.placed`), so that a delete reaches them. */
  copies?: Array<{ id: string, peer: string }>
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

/** The list of files uploaded from this browser, kept in IndexedDB. */
export class Files {
  items = $state<MyFile[]>([])
  /** Health and delete results by manifest id. */
  checks = $state<Record<string, FileCheck>>({})
  #db: Promise<IDBPDatabase> | undefined

  #open (): Promise<IDBPDatabase> {
    this.#db ??= openDB('shardfarm-files', 1, { upgrade (db) { db.createObjectStore('files', { keyPath: 'manifestId' }) } })
    return this.#db
  }

  async load (): Promise<void> {
    const all = await (await this.#open()).getAll('files') as MyFile[]
    this.items = all.sort((a, b) => b.createdAt - a.createdAt)
  }

  async add (f: MyFile): Promise<void> {
    await (await this.#open()).put('files', f)
    await this.load()
  }

  async remove (manifestId: string): Promise<void> {
    await (await this.#open()).delete('files', manifestId)
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
   * its health again. Links to it keep working (see `repairFile`).
   */
  async repair (f: MyFile): Promise<void> {
    const prev = this.checks[f.manifestId]
    this.checks[f.manifestId] = { ...prev, busy: 'repair' }
    try {
      const owner = await ownerKeyFromSeed(fromBase64(f.ownerSeed))
      const ports = await session.connectedPorts()
      const repaired = await repairFile(ports, parseCapability(f.link), owner)
      if (repaired.placed.length > 0) {
        const plain = $state.snapshot(f) // IndexedDB clones plain objects, not the list's proxies
        await this.add({ ...plain, copies: [...plain.copies ?? [], ...repaired.placed] })
      }
      const { manifest, segments } = await fileHealth(ports, parseCapability(f.link))
      this.checks[f.manifestId] = { busy: undefined, segments, k: manifest.policy.k, m: manifest.policy.m, repaired }
    } catch (err) {
      this.checks[f.manifestId] = { busy: undefined, ...errorOf(err) }
    }
  }

  /**
   * Removes the file from the grid with signed deletes (this browser holds the owner key), then
   * from the list. If some farmers do not answer, the file stays listed so that it can be tried again.
   */
  async deleteFromGrid (f: MyFile): Promise<void> {
    this.checks[f.manifestId] = { busy: 'delete' }
    try {
      const owner = await ownerKeyFromSeed(fromBase64(f.ownerSeed))
      const { failed } = await deleteFile(await session.connectedPorts(), parseCapability(f.link), owner, { copies: f.copies ?? [] })
      if (failed === 0) {
        delete this.checks[f.manifestId]
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
