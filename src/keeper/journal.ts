/**
 * Settling a repair's journal. A keeper journals every copy before it PUTs it (`KeeperState.journal`),
 * so a keeper killed mid-repair, or a PUT that failed after the farmer may have stored the bytes,
 * leaves intents behind, never unknown claims. On the next round each intent is settled: a copy its
 * farmer proves is adopted (it counts, is audited and renewed, and the owner's `rm` reaches it);
 * any other gets a signed DELETE of the claim it may carry. A farmer that does not answer keeps
 * its intent for a later round, until a lease has passed and its claim has expired by itself.
 */
import { isAbortError, type AbortOptions } from '../core/errors.ts'
import { sha256Hex } from '../core/hash.ts'
import type { VerifyManifest } from '../core/manifest.ts'
import type { OwnerKey } from '../core/owner-key.ts'
import { proveCopies, type ProofPorts } from '../client/blocks/proofs.ts'
import { fragmentFacts } from '../client/ops/stat.ts'
import type { FarmerRef } from '../client/ports.ts'
import { copyKey } from './copies.ts'
import type { FileRecord, PendingCopy } from './state.ts'

/** What settling needs: proofs, GETs and DELETEs. */
export type JournalPorts = ProofPorts

/** What one settling did. */
export interface Settled {
  /** Copies proven and moved to `record.copies`. */
  adopted: Array<{ id: string, peer: string }>
  /** Copies whose claim was deleted (or that the farmer never held). */
  withdrawn: Array<{ id: string, peer: string }>
  /** Copies left in the journal: their farmer did not answer. */
  left: number
}

/**
 * Settles `record.pending` of the file `manifestId` (its verify manifest `manifest`): adopts the
 * copies their farmers prove, deletes the claims `owner` may hold on the others. Changes `record`
 * in place; the caller saves it. Intents older than `leaseMs` are dropped unanswered (a claim
 * nobody renews has expired by then).
 */
export async function settleJournal (ports: JournalPorts, manifestId: string, manifest: VerifyManifest, record: FileRecord,
  resolve: (peer: string) => FarmerRef, owner: OwnerKey, init: { now: number, leaseMs: number }, options: AbortOptions = {}): Promise<Settled> {
  const out: Settled = { adopted: [], withdrawn: [], left: 0 }
  const pending = record.pending ?? []
  if (pending.length === 0) return out
  const known = new Set(record.copies.map(copyKey))
  const facts = fragmentFacts(manifest)
  const open = pending.filter(p => !known.has(copyKey(p)) && (facts.has(p.id) || p.id === manifestId))
  const fragments = open.filter(p => p.id !== manifestId)
  const proofs = await proveCopies(ports, fragments.map(p => {
    const f = facts.get(p.id)!
    return { farmer: resolve(p.peer), id: p.id, size: f.size, ...(f.root !== undefined ? { root: f.root } : {}) }
  }), options)
  const verdicts = new Map(fragments.map((p, i) => [copyKey(p), proofs[i]!]))
  for (const p of open.filter(p => p.id === manifestId)) {
    verdicts.set(copyKey(p), await ports.transport.get(resolve(p.peer), p.id, options).then(
      async bytes => await sha256Hex(bytes) === p.id ? 'proven' as const : 'failed' as const,
      (err: { code?: string }) => err.code === 'NOT_FOUND' ? 'missing' as const : 'unreachable' as const))
  }
  const keep: PendingCopy[] = []
  for (const p of open) {
    const verdict = verdicts.get(copyKey(p))
    if (verdict === 'proven') {
      record.copies.push({ id: p.id, peer: p.peer })
      record.audits[copyKey(p)] = { at: init.now, verdict: 'proven' }
      out.adopted.push({ id: p.id, peer: p.peer })
      continue
    }
    if (verdict === 'missing' || verdict === 'failed') {
      // Whatever the farmer holds of it, the claim goes: DELETE removes only this owner's claim.
      const gone = await ports.transport.delete(resolve(p.peer), p.id, owner, options).then(() => true, (err: { code?: string }) => {
        if (isAbortError(err) && options.signal?.aborted === true) throw err
        return err.code === 'NOT_FOUND'
      })
      if (gone) { out.withdrawn.push({ id: p.id, peer: p.peer }); continue }
    }
    if (init.now - p.at < init.leaseMs) keep.push(p)
  }
  out.left = keep.length
  if (keep.length > 0) record.pending = keep
  else delete record.pending
  return out
}
