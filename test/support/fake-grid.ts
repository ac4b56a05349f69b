/**
 * Client test fixtures: a grid of in-memory farmers behind the client's ports, and helpers to put
 * and get files through the real upload job and download. For unit tests of src/client only; the
 * grid tests run real farmer processes.
 */
import { createHash } from 'node:crypto'
import { parseCapability } from '../../src/core/capability.ts'
import { FarmerError } from '../../src/net/protocols/fragment-errors.ts'
import { LEASE_MS } from '../../src/net/protocols/fragment-constants.ts'
import { MemoryFragmentStore } from '../../src/stores/memory.ts'
import { MemoryKeyValueStore } from '../../src/stores/kv/memory.ts'
import { KvJobStore, type JobStore } from '../../src/client/job-store.ts'
import { UploadJob, type UploadJobInit, type UploadResult, type UploadRunOptions } from '../../src/client/ops/upload.ts'
import { Download, type DownloadOptions } from '../../src/client/ops/download.ts'
import type { ByteSource, ClientPorts, ErasureCoder, Farmer, FarmerRef, FragmentTransport } from '../../src/client/ports.ts'
import { TEST_POLICY } from './test-policy.ts'

/** The uploader peer id the fake farmers record on claims. */
const FAKE_CLIENT = '12D3KooWFakeClient'

/** A grid of in-memory farmers; `down` ones fail every call, `gets` counts fragment fetches. */
export class FakeGrid implements FragmentTransport {
  readonly stores = new Map<string, MemoryFragmentStore>()
  readonly down = new Set<string>()
  /** Farmers that fail this many more calls (unreachable), then answer again. */
  readonly flaky = new Map<string, number>()
  /** Farmers that answer GETs only after this many ms. */
  readonly slow = new Map<string, number>()
  gets = 0
  readonly farmers: Farmer[]
  readonly coder: ErasureCoder
  constructor (farmers: Farmer[], coder: ErasureCoder) {
    this.farmers = farmers
    this.coder = coder
    for (const f of farmers) this.stores.set(f.peerId, new MemoryFragmentStore({ quota: 1e9 }))
  }

  static make (n: number, coder: ErasureCoder, regions = ['eu', 'us', 'ap']): FakeGrid {
    return new FakeGrid(Array.from({ length: n }, (_, i) => ({
      peerId: `12D3KooWFake${'ABCDEFGHJKLMNPQRSTUVWXYZ'[i]!.repeat(40)}`, addrs: [], region: regions[i % regions.length]!, tier: 'live', kind: 'full', free: 1e9,
      // Known to the relay long enough, each on a network of its own: placement's vetting and
      // subnet rules are the placement tests' business, not the pipelines'.
      subnet: `10.0.${i}.0/24`, vettedAt: 0
    })), coder)
  }

  #store (f: FarmerRef): MemoryFragmentStore {
    const fails = this.flaky.get(f.peerId) ?? 0
    if (fails > 0) this.flaky.set(f.peerId, fails - 1)
    if (this.down.has(f.peerId) || fails > 0) throw new FarmerError('UNREACHABLE', 'Farmer unreachable: connection refused', { remote: false })
    return this.stores.get(f.peerId)!
  }

  /** Like a farmer: an owner is required, and a re-put adds or extends that owner's claim. */
  async put (f: FarmerRef, id: string, bytes: Uint8Array, o: { owner: { publicKey: string } }): Promise<void> {
    if ((o as { owner?: unknown } | undefined)?.owner === undefined) throw new FarmerError('FORBIDDEN', 'PUT must name an owner key')
    await this.#store(f).put(id, bytes.slice(), { claims: [{ owner: o.owner.publicKey, peer: FAKE_CLIENT, expiresAt: Date.now() + LEASE_MS }] })
  }

  async get (f: FarmerRef, id: string, o?: { signal?: AbortSignal }): Promise<Uint8Array> {
    this.gets++
    const delay = this.slow.get(f.peerId)
    if (delay !== undefined) {
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(resolve, delay)
        o?.signal?.addEventListener('abort', () => { clearTimeout(t); reject(new Error('aborted')) }, { once: true })
      })
    }
    return await this.#store(f).get(id)
  }
  async has (f: FarmerRef, ids: string[]): Promise<boolean[]> { return await this.#store(f).has(ids) }
  /** Removes the owner's claim; the bytes go with the last one. */
  async delete (f: FarmerRef, id: string, owner: { publicKey: string }): Promise<void> {
    await this.#store(f).updateClaims(id, claims => claims.filter(c => c.owner !== owner.publicKey))
  }

  /** Extends the owner's claims by one lease; per id, whether it had one. */
  async renew (f: FarmerRef, ids: string[], owner: { publicKey: string }): Promise<boolean[]> {
    const store = this.#store(f)
    const out: boolean[] = []
    for (const id of ids) {
      let found = false
      await store.updateClaims(id, claims => claims.map(c => {
        if (c.owner !== owner.publicKey) return c
        found = true
        return { ...c, expiresAt: Date.now() + LEASE_MS }
      }))
      out.push(found)
    }
    return out
  }
  ports () { return { transport: this, coder: this.coder, directory: { list: async () => this.farmers.filter(f => !this.down.has(f.peerId)) } } }
}

export const source = (bytes: Uint8Array): ByteSource => ({ size: bytes.length, read: async (o, l) => bytes.slice(o, o + l) })
export const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

/** A job store in memory. */
export const memoryJobs = (): JobStore => new KvJobStore(new MemoryKeyValueStore())

/** Options of `putFile`: a job's and a run's. */
export type PutOptions = Partial<Omit<UploadJobInit, 'size'>> & UploadRunOptions & { store?: JobStore }

/** Uploads `src` through a job (in `store`, under `sourceKey` as its id when given) and returns the result. */
export async function putFile (ports: ClientPorts, src: ByteSource, opts: PutOptions = {}): Promise<UploadResult> {
  const { store = memoryJobs(), signal, concurrency, ...init } = opts
  const job = await UploadJob.open(store, { policy: TEST_POLICY, ...init, ...(init.sourceKey !== undefined ? { id: jobIdOf(init.sourceKey) } : {}), size: src.size })
  return await job.run(ports, src, { ...(signal !== undefined ? { signal } : {}), ...(concurrency !== undefined ? { concurrency } : {}) })
}

/** A key-safe job id for a source key (as the CLI makes one from a file's identity). */
export const jobIdOf = (sourceKey: string): string => createHash('sha256').update(sourceKey).digest('hex').slice(0, 32)

/** Downloads `link` (or a range of it) into one buffer. */
export async function getFile (ports: ClientPorts, link: string, options: DownloadOptions = {}): Promise<Uint8Array> {
  const chunks: Uint8Array[] = []
  await new Download(ports, parseCapability(link), options).run(c => { chunks.push(c.slice()) })
  return Buffer.concat(chunks)
}
