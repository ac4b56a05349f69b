/**
 * `shardfarm renew`: extends the owner's leases on every fragment and manifest copy of some files,
 * with one signed RENEW per farmer (batched by the transport) rather than one request per fragment.
 * Farmers drop claims whose lease ran out, and fragments nobody claims, so an owner renews its
 * files well within the farmers' lease (30 days by default).
 */
import type { Capability } from '../../core/capability.ts'
import { throwIfAborted, type AbortOptions } from '../../core/errors.ts'
import type { OwnerKey } from '../../core/owner-key.ts'
import { fetchManifest } from '../blocks/open-manifest.ts'
import type { FarmerRef, GridPorts } from '../ports.ts'

/** Farmers renewed at once. @default */
export const RENEW_CONCURRENCY = 8

/** Options of `renewFiles`. */
export interface RenewOptions extends AbortOptions {
  /** Farmers asked at once. @default RENEW_CONCURRENCY (8) */
  concurrency?: number
}

/** What `renewFiles` did. */
export interface RenewSummary {
  /** Files whose manifest opened (the others' fragments are unknown, so not renewed). */
  files: number
  /** Files whose manifest could not be fetched, by manifest id, with the error's name. */
  unopened: Array<{ manifestId: string, error: string }>
  /** Farmers a RENEW was sent to. */
  farmersAsked: number
  /** Claims extended. */
  renewed: number
  /** Ids a farmer answered for but held no claim of this owner on (it lost or dropped them). */
  notRenewed: number
  /** Farmers that did not answer (their claims run on towards expiry). */
  unreachable: Array<{ peerId: string, error: string }>
}

/**
 * Renews `owner`'s claims on every fragment of the files `capabilities` name and on their manifest
 * copies (the holders the manifest lists plus those the capability names), grouped by farmer.
 */
export async function renewFiles (ports: GridPorts, capabilities: readonly Capability[], owner: OwnerKey,
  options: RenewOptions = {}): Promise<RenewSummary> {
  const summary: RenewSummary = { files: 0, unopened: [], farmersAsked: 0, renewed: 0, notRenewed: 0, unreachable: [] }
  const byFarmer = new Map<string, { ref: FarmerRef, ids: Set<string> }>()
  for (const cap of capabilities) {
    throwIfAborted(options.signal)
    let opened
    try {
      opened = await fetchManifest(ports, cap, options)
    } catch (err) {
      if ((err as Error).name === 'AbortError') throw err
      summary.unopened.push({ manifestId: cap.manifestId, error: (err as Error).name })
      continue
    }
    summary.files++
    const { manifest, resolve } = opened
    const add = (peer: string, id: string): void => {
      let entry = byFarmer.get(peer)
      if (entry === undefined) byFarmer.set(peer, entry = { ref: resolve(peer), ids: new Set() })
      entry.ids.add(id)
    }
    manifest.segments.forEach(seg => seg.fragments.forEach((id, i) => { for (const h of seg.holders[i] ?? []) add(h, id) }))
    for (const h of cap.holders) add(h, cap.manifestId)
  }
  const queue = [...byFarmer.values()]
  const worker = async (): Promise<void> => {
    for (let job = queue.shift(); job !== undefined; job = queue.shift()) {
      throwIfAborted(options.signal)
      summary.farmersAsked++
      try {
        const bits = await ports.transport.renew(job.ref, [...job.ids], owner, options)
        for (const b of bits) { if (b) summary.renewed++; else summary.notRenewed++ }
      } catch (err) {
        if ((err as Error).name === 'AbortError') throw err
        summary.unreachable.push({ peerId: job.ref.peerId, error: (err as Error).name })
      }
    }
  }
  const n = Math.max(1, Math.min(options.concurrency ?? RENEW_CONCURRENCY, queue.length))
  await Promise.all(Array.from({ length: n }, worker))
  return summary
}
