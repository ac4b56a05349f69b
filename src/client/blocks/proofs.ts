/**
 * Proving copies: which farmers can show they hold a fragment, now. A copy counts toward a file's
 * health only when proven: by an audit (a Merkle challenge against the fragment's root in the
 * verify manifest) or, for a fragment without a root (a manifest, or a file stored before version 2
 * manifests), by a GET whose bytes hash to its id. A farmer's word (HAS, or a PUT answered "stored")
 * is only a hint of where to look.
 */
import type { AbortOptions } from '../../core/errors.ts'
import { throwIfAborted } from '../../core/errors.ts'
import { sha256Hex } from '../../core/hash.ts'
import { MAX_AUDIT_BATCH, MAX_AUDIT_BATCH_BYTES, MAX_AUDITS_PER_PEER } from '../../net/protocols/audit.ts'
import type { ClientPorts, FarmerRef } from '../ports.ts'

/** What one copy of a fragment is to be checked against. */
export interface CopyToProve {
  /** The farmer said to hold it. */
  farmer: FarmerRef
  id: string
  /** The fragment's Merkle root; absent: proven by a GET that hashes to `id`. */
  root?: string
  /** The fragment's length in bytes. */
  size: number
}

/** The verdict on one copy. `unreachable`: no answer, which proves nothing either way. */
export type CopyVerdict = 'proven' | 'failed' | 'missing' | 'unreachable'

/** The ports proofs run on: the transport for GETs, and the auditor and score book when there are. */
export type ProofPorts = Pick<ClientPorts, 'transport' | 'auditor' | 'scores'>

/** Proofs in flight at once, over all farmers. */
export const PROOF_CONCURRENCY = 16
/** Audits in flight to one farmer: what a farmer serves one peer at once (more are refused BUSY). */
export const AUDITS_PER_FARMER = MAX_AUDITS_PER_PEER
/** Tries of an audit a busy farmer refused, the first included; the waits double from BUSY_WAIT_MS. */
const BUSY_TRIES = 4
const BUSY_WAIT_MS = 200

/**
 * Checks every copy, at most `PROOF_CONCURRENCY` at once and `AUDITS_PER_FARMER` per farmer, and
 * records each audit's outcome in the score book (a farmer that fails gets a worse score; an
 * unreachable one is not scored). A farmer's copies with roots are audited in batches (one stream
 * for up to `MAX_AUDIT_BATCH` of them) when the auditor can. Verdicts come back in the order of
 * `copies`.
 */
export async function proveCopies (ports: ProofPorts, copies: readonly CopyToProve[], options: AbortOptions = {}): Promise<CopyVerdict[]> {
  const verdicts: CopyVerdict[] = new Array(copies.length)
  const byFarmer = new Map<string, number[][]>()
  const batching = ports.auditor?.auditMany !== undefined
  copies.forEach((c, i) => {
    const queue = byFarmer.get(c.farmer.peerId) ?? []
    byFarmer.set(c.farmer.peerId, queue)
    const last = queue.at(-1)
    const fits = batching && c.root !== undefined && last !== undefined && copies[last[0]!]!.root !== undefined &&
      last.length < MAX_AUDIT_BATCH && !last.some(j => copies[j]!.id === c.id) &&
      last.reduce((n, j) => n + copies[j]!.size, c.size) <= MAX_AUDIT_BATCH_BYTES
    if (fits) last.push(i)
    else queue.push([i])
  })
  // Lanes: each takes the next batch of its farmer; a farmer has at most AUDITS_PER_FARMER of them.
  const lanes: Array<() => Promise<void>> = []
  for (const queue of byFarmer.values()) {
    for (let l = 0; l < Math.min(AUDITS_PER_FARMER, queue.length); l++) {
      lanes.push(async () => {
        for (let batch = queue.shift(); batch !== undefined; batch = queue.shift()) {
          throwIfAborted(options.signal)
          if (batch.length === 1) verdicts[batch[0]!] = await proveCopy(ports, copies[batch[0]!]!, options)
          else (await proveBatch(ports, batch.map(i => copies[i]!), options)).forEach((v, j) => { verdicts[batch[j]!] = v })
        }
      })
    }
  }
  let next = 0
  await Promise.all(Array.from({ length: Math.min(PROOF_CONCURRENCY, lanes.length) }, async () => {
    while (next < lanes.length) await lanes[next++]!()
  }))
  throwIfAborted(options.signal) // an aborted proof reads as unreachable: never act on those
  return verdicts
}

/**
 * `audit()`, asked again a little later while the farmer answers BUSY (other auditors), up to
 * BUSY_TRIES times; undefined when it never answers, which proves nothing either way.
 */
async function whenNotBusy<T> (audit: () => Promise<T>, options: AbortOptions): Promise<T | undefined> {
  for (let tries = 1; ; tries++) {
    try {
      return await audit()
    } catch (err) {
      if ((err as { code?: string }).code !== 'BUSY' || tries >= BUSY_TRIES || options.signal?.aborted === true) return undefined
      await new Promise(resolve => setTimeout(resolve, BUSY_WAIT_MS * 2 ** (tries - 1)))
    }
  }
}

/** Copies on one farmer, all with roots, audited in one batch. */
async function proveBatch (ports: ProofPorts, batch: readonly CopyToProve[], options: AbortOptions): Promise<CopyVerdict[]> {
  const farmer = batch[0]!.farmer
  const outcomes = await whenNotBusy(async () => await ports.auditor!.auditMany!(farmer, batch.map(c => ({ id: c.id, root: c.root!, size: c.size })), options), options)
  if (outcomes === undefined) return batch.map(() => 'unreachable')
  const verdicts: CopyVerdict[] = []
  for (const o of outcomes) {
    // The farmer's own refusal of one copy proves nothing either way, as for one audit.
    const verdict = o instanceof Error ? 'unreachable' : o.verdict
    if (verdict !== 'unreachable') await ports.scores?.record(farmer.peerId, verdict === 'proven')
    verdicts.push(verdict)
  }
  return verdicts
}

async function proveCopy (ports: ProofPorts, c: CopyToProve, options: AbortOptions): Promise<CopyVerdict> {
  if (c.root !== undefined && ports.auditor !== undefined) {
    const auditor = ports.auditor
    const outcome = await whenNotBusy(async () => await auditor.audit(c.farmer, { id: c.id, root: c.root!, size: c.size }, options), options)
    if (outcome === undefined) return 'unreachable'
    await ports.scores?.record(c.farmer.peerId, outcome.verdict === 'proven')
    return outcome.verdict
  }
  try {
    // The transport checks that the bytes hash to the id (`verifiesHashes`), or throws.
    const bytes = await ports.transport.get(c.farmer, c.id, options)
    if (ports.transport.verifiesHashes !== true && await sha256Hex(bytes) !== c.id) return 'failed'
    return bytes.length === c.size ? 'proven' : 'failed'
  } catch (err) {
    const code = (err as { code?: string }).code
    return code === 'NOT_FOUND' ? 'missing' : code === 'HASH_MISMATCH' || code === 'CORRUPT_FRAGMENT' ? 'failed' : 'unreachable'
  }
}

/** Whether a farmer's copies may count: not when its audits put it below the trust threshold. */
export function counts (ports: Pick<ClientPorts, 'scores'>, peer: string): boolean {
  return ports.scores?.trusted(peer) ?? true
}
