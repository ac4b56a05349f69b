/**
 * The offline outbox. With no grid in reach, an upload still does everything that needs no
 * network: it reads, encrypts and erasure-codes the file, and keeps the fragments and a job record
 * in an `OutboxStore` (IndexedDB in browsers). `drainJob` later places and sends them, recording
 * each segment's holders as it goes, so a reload or a lost connection mid-drain resumes where it
 * stopped instead of starting over.
 */
import type { Capability } from '../core/capability.ts'
import { throwIfAborted } from '../core/errors.ts'
import { generateFileId, generateFileKey, importFileKey } from '../core/envelope.ts'
import { sha256Hex, toHex } from '../core/hash.ts'
import type { Manifest } from '../core/manifest.ts'
import { fromBase64, ownerKeyFromSeed, toBase64 } from '../core/owner-key.ts'
import { place } from '../core/placement.ts'
import { normalizePolicy, type StoragePolicy } from '../core/policy.ts'
import { DEFAULT_SHARD_SIZE, segmentLayout, segmentRange } from '../core/segments.ts'
import type { ByteSource, ErasureCoder, FarmerDirectory, FragmentTransport } from './ports.ts'
import { sealSegment } from './seal.ts'
import { Disperser, publishManifest, recheckStored } from './upload.ts'

export type OutboxStatus = 'sealing' | 'queued' | 'sending' | 'done'

export interface OutboxJob {
  id: string
  name: string
  mime: string
  size: number
  policy: Required<StoragePolicy>
  fileIdHex: string
  keyB64: string
  ownerSeedB64: string
  shardSize: number
  createdAt: number
  status: OutboxStatus
  /** Per segment: what the manifest needs, and its plaintext digest. */
  segments: Array<{ ciphertextLength: number, shardLength: number, fragments: string[], digest: string }>
  /** Per segment already sent: holders of each fragment. */
  holders: Record<number, string[][]>
  link?: string
  /** Last drain failure, for display (the job stays queued). */
  lastError?: { name: string, code?: string, message: string }
}

/** Persistence of the outbox (jobs and their fragments). */
export interface OutboxStore {
  putJob(job: OutboxJob): Promise<void>
  getJob(id: string): Promise<OutboxJob | undefined>
  listJobs(): Promise<OutboxJob[]>
  deleteJob(id: string): Promise<void>
  putFragment(jobId: string, segment: number, index: number, bytes: Uint8Array): Promise<void>
  getFragment(jobId: string, segment: number, index: number): Promise<Uint8Array | undefined>
  deleteFragments(jobId: string): Promise<void>
}

export interface SealOptions {
  policy?: string | StoragePolicy
  name?: string
  mime?: string
  shardSize?: number
  signal?: AbortSignal
  onProgress?: (sealedBytes: number) => void
}

/** Phase one, offline: encrypt and encode `source` into the outbox. Returns the queued job. */
export async function sealToOutbox (coder: ErasureCoder, outbox: OutboxStore, source: ByteSource, options: SealOptions = {}): Promise<OutboxJob> {
  const policy = normalizePolicy(options.policy ?? 'live')
  const shardSize = options.shardSize ?? DEFAULT_SHARD_SIZE
  const layout = segmentLayout(source.size, policy.k, shardSize)
  const fileId = generateFileId()
  const rawKey = generateFileKey()
  const key = await importFileKey(rawKey)
  const job: OutboxJob = {
    id: toHex(crypto.getRandomValues(new Uint8Array(8))), name: options.name ?? '', mime: options.mime ?? 'application/octet-stream',
    size: source.size, policy, fileIdHex: toHex(fileId), keyB64: toBase64(rawKey),
    ownerSeedB64: toBase64(crypto.getRandomValues(new Uint8Array(32))), shardSize, createdAt: Date.now(), status: 'sealing', segments: [], holders: {}
  }
  await outbox.putJob(job)
  let sealedBytes = 0
  for (let s = 0; s < layout.count; s++) {
    throwIfAborted(options.signal)
    const r = segmentRange(layout, s)
    const plain = r.length === 0 ? new Uint8Array(0) : await source.read(r.offset, r.length)
    const digest = await sha256Hex(plain)
    const seg = await sealSegment(plain, {
      key, fileId, index: s, count: layout.count, policy, coder, ...(options.signal !== undefined ? { signal: options.signal } : {})
    })
    // Each its own copy: IndexedDB would store the whole buffer under a view.
    const frags = seg.frags.map(f => f.slice())
    const ids = await Promise.all(frags.map(async f => await sha256Hex(f)))
    for (const [i, f] of frags.entries()) await outbox.putFragment(job.id, s, i, f)
    job.segments.push({ ciphertextLength: seg.ciphertextLength, shardLength: seg.shardLength, fragments: ids, digest })
    sealedBytes += r.length
    options.onProgress?.(sealedBytes)
  }
  job.status = 'queued'
  await outbox.putJob(job)
  return job
}

export interface DrainResult {
  capability: Capability
  link: string
  manifest: Manifest
}

/** Phase two, online: place and send a queued job's fragments, then its manifest. */
export async function drainJob (ports: { transport: FragmentTransport, directory: FarmerDirectory }, outbox: OutboxStore, jobId: string,
  options: { signal?: AbortSignal, onProgress?: (sentSegments: number, segments: number) => void } = {}): Promise<DrainResult> {
  const job = await outbox.getJob(jobId)
  if (job === undefined || job.status === 'sealing') throw new Error(`No queued outbox job ${jobId}`)
  job.status = 'sending'
  await outbox.putJob(job)
  try {
    return await send(ports, outbox, job, options)
  } catch (err) {
    const e = err as { name?: string, code?: string, message?: string }
    job.status = 'queued'
    job.lastError = { name: e.name ?? 'Error', message: e.message ?? String(err), ...(e.code !== undefined ? { code: e.code } : {}) }
    await outbox.putJob(job)
    throw err
  }
}

async function send (ports: { transport: FragmentTransport, directory: FarmerDirectory }, outbox: OutboxStore, job: OutboxJob,
  options: { signal?: AbortSignal, onProgress?: (sentSegments: number, segments: number) => void }): Promise<DrainResult> {
  const { policy } = job
  const farmers = await ports.directory.list(options)
  const placement = place(policy, farmers, { fragmentSize: job.shardSize, segments: job.segments.length })
  const owner = await ownerKeyFromSeed(fromBase64(job.ownerSeedB64))
  const byId = new Map(farmers.map(f => [f.peerId, f]))
  const disperser = new Disperser({ transport: ports.transport, placement, byId, owner, ...(options.signal !== undefined ? { signal: options.signal } : {}) })
  // Segments an earlier drain sent whose holders have lost fragments since go again, but only those.
  const sent = job.segments.map((seg, s) => job.holders[s] === undefined ? undefined : { ...seg, holders: job.holders[s] })
  // (Their old holders stay recorded until they are sent again: a drain interrupted before then
  // still knows which farmers kept which fragments.)
  const restore = await recheckStored(ports.transport, sent, policy, byId, options.signal)
  for (const [s, seg] of job.segments.entries()) {
    if (job.holders[s] !== undefined && !restore.has(s)) continue
    const frags: Uint8Array[] = []
    for (let i = 0; i < seg.fragments.length; i++) {
      const f = await outbox.getFragment(job.id, s, i)
      if (f === undefined) throw new Error(`Outbox lost fragment ${i} of segment ${s}`)
      frags.push(f)
    }
    // A drain interrupted earlier may have sent some of these already: ask before sending.
    job.holders[s] = await disperser.storeSegment(s, frags, seg.fragments, true, restore.get(s))
    await outbox.putJob({ ...job, status: 'sending' })
    options.onProgress?.(Object.keys(job.holders).length, job.segments.length)
  }
  const { capability, link, manifest } = await publishManifest(disperser, {
    fileId: job.fileIdHex, name: job.name, mime: job.mime, size: job.size, createdAt: job.createdAt, policy, shardSize: job.shardSize
  }, job.segments.map((seg, s) => ({ ciphertextLength: seg.ciphertextLength, shardLength: seg.shardLength, fragments: seg.fragments, holders: job.holders[s]! })),
  job.segments.map(seg => seg.digest), fromBase64(job.keyB64), farmers, placement)
  job.status = 'done'
  job.link = link
  delete job.lastError
  await outbox.putJob(job)
  await outbox.deleteFragments(job.id)
  return { capability, link, manifest }
}
