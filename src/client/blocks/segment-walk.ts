/**
 * The segment loop every upload phase shares (sealing into the outbox, sending, the streaming put
 * that does both): segments done for the pass are skipped; the others get their fragments (sealed
 * now, or kept from before), are delivered and recorded, several in flight at once.
 */
import { SourceChangedError } from '../errors.ts'
import type { SegmentRecord } from '../job-store.ts'

/**
 * Most fragment bytes a segment loop keeps in flight: 128 MiB, two `archive` segments (32 + 32
 * fragments of 1 MiB), four `live` ones. The segment being sealed swells to about (2k + m) shards
 * above this (ciphertext beside its parity), so an `archive` put peaks near 160 MiB of segments.
 */
export const IN_FLIGHT_BYTES = 128 * 1024 * 1024

/**
 * Segments to keep in flight: `requested`, but no more than `budget` bytes of fragments hold
 * (`segmentBytes` each: k + m fragments), and one at least, however large a segment is.
 */
export function segmentsInFlight (requested: number, segmentBytes: number, budget: number = IN_FLIGHT_BYTES): number {
  const wanted = Number.isFinite(requested) ? Math.floor(requested) : 1
  const fit = segmentBytes > 0 ? Math.floor(budget / segmentBytes) : wanted
  return Math.max(1, Math.min(wanted, fit))
}

/** Where a segment's fragments come from, and where they go. */
export interface SegmentPass {
  /** The fragments of segment `s` and its record; `release` once every fragment is delivered. */
  fragmentsOf: (s: number, recorded: SegmentRecord | undefined) => Promise<{ frags: Uint8Array[], record: SegmentRecord, release?: () => void }>
  /** Puts the fragments where this pass sends them; returns the record to keep (with holders, when sent). */
  deliver: (s: number, frags: Uint8Array[], record: SegmentRecord) => Promise<SegmentRecord>
  /** Whether a recorded segment is done for this pass. */
  done: (s: number, recorded: SegmentRecord) => boolean
  /** Segments in flight at once (see `segmentsInFlight` for a bound by bytes). */
  concurrency: number
}

/** What the loop tells its job. */
export interface WalkHooks {
  skipped: (s: number) => void
  /** A segment read differently from its record: the job is over (called before the error is thrown). */
  changed: (s: number) => Promise<void>
  record: (s: number, record: SegmentRecord) => Promise<void>
}

/**
 * Walks `count` segments through `pass`. One segment at a time gets its fragments (`fragmentsOf`,
 * in turn); the others in flight are only their fragments. Sealing is when a segment is largest
 * (plaintext, ciphertext and parity at once, about 3.4× its size), and with every worker free to
 * seal, several finishing their PUTs together all swelled at once: a 4 GiB CLI put at 4 segments
 * peaked at 303–348 MiB, where this bound is one swollen segment plus fragments. Sealing is CPU
 * work on the main thread and the one codec worker, so serialising it costs no overlap worth
 * having. A failure stops the other workers taking new segments; the loop returns (or throws) only
 * once none is still working.
 */
export async function walkSegments (count: number, recorded: ReadonlyArray<SegmentRecord | undefined>, pass: SegmentPass, hooks: WalkHooks): Promise<SegmentRecord[]> {
  const out: SegmentRecord[] = new Array(count)
  let preparing: Promise<unknown> = Promise.resolve()
  const inTurn = async (s: number): ReturnType<SegmentPass['fragmentsOf']> => {
    const turn = preparing.then(async () => await pass.fragmentsOf(s, recorded[s]))
    preparing = turn.catch(() => {})
    return await turn
  }
  let next = 0
  let failed = false
  const worker = async (): Promise<void> => {
    while (next < count && !failed) {
      const s = next++
      const had = recorded[s]
      if (had !== undefined && pass.done(s, had)) {
        out[s] = had
        hooks.skipped(s)
        continue
      }
      const { frags, record, release } = await inTurn(s)
      if (had !== undefined && record.digest !== had.digest) {
        // Same key, nonce and associated data over other plaintext must never be stored, and the
        // kept fragments would not fit the new ones: this job cannot go on.
        failed = true
        await hooks.changed(s)
        throw new SourceChangedError(s)
      }
      out[s] = await pass.deliver(s, frags, record)
      release?.() // every fragment is stored: the next segment is sealed into this buffer
      await hooks.record(s, out[s])
    }
  }
  const results = await Promise.allSettled(Array.from({ length: pass.concurrency }, async () => {
    try { await worker() } catch (err) { failed = true; throw err }
  }))
  const rejected = results.find(r => r.status === 'rejected')
  if (rejected !== undefined) throw rejected.reason
  return out
}
