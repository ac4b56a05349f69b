/**
 * Counters of a farmer and their Prometheus text rendering. No HTTP here: the farmer process serves
 * `render()` on its metrics endpoint. Everything is synchronous and cheap so that a scrape never
 * waits on the store; store figures are the last ones the service observed.
 */
import { PrometheusText } from '../core/prometheus.ts'
import type { Op } from '../net/protocols/fragment-constants.ts'
import { OPS } from '../net/protocols/fragment-constants.ts'
import type { StoreStat } from '../core/fragment-store.ts'

/** A plain copy of every figure, for logs and tests. */
export interface FarmerMetricsSnapshot {
  /** Requests whose header parsed, by operation. */
  requests: Record<Op, number>
  /** Requests answered with success, by operation. */
  succeeded: Record<Op, number>
  /** Refusals sent, by wire code (including frames too malformed to know their operation). */
  errors: Record<string, number>
  /** Streams the peer reset or aborted before an answer. */
  resets: number
  /** Fragment bytes accepted by PUTs that stored something. */
  putBytes: number
  /** Fragment bytes sent by GETs. */
  getBytes: number
  /** Distinct peers that fetched at least one fragment (counted up to MAX_READERS). */
  readers: number
  /** Streams open now. */
  activeStreams: number
  /** PUT body bytes taken from the farmer-wide budget now (received, or the slice being read). */
  putBytesInFlight: number
  /** Declared PUT bytes reserved from peers' budgets now. */
  putBytesReserved: number
  /** GETs being served now. */
  getsInFlight: number
  /** Streams ended by the farmer for missing their deadline or moving too slowly, by reason. */
  cut: Record<string, number>
  /** The store as last observed. */
  store: StoreStat
  /** Claims removed because their lease ended. */
  claimsExpired: number
  /** Fragments deleted because no claim was left on them. */
  fragmentsCollected: number
  /** Payload bytes by claim state as last observed: some live claim (`active`), or every claim ended (`expired`). */
  claimBytes: { active: number, expired: number }
  /** Audits served (`audit-service.ts`). */
  audits: AuditCounters
}

/**
 * How the audits a farmer was asked went: each answered one counts in exactly one of `proven`,
 * `busy`, `failed` or `rejected` (a proof the auditor went away before receiving counts in none).
 */
export interface AuditCounters {
  /** Answered with proofs. */
  proven: number
  /** Refused `BUSY`: past the per-peer or farmer-wide audit budget. */
  busy: number
  /** Not proven by the farmer's fault: the fragment missing or corrupt (`NOT_FOUND`), unreadable (`INTERNAL`), too slow (`TIMEOUT`). */
  failed: number
  /** Refused as the auditor's fault: a malformed request or a leaf past the end (`BAD_REQUEST`, `TOO_LARGE`). */
  rejected: number
  /** Every refusal, by wire code. */
  refused: Record<string, number>
  /** Bytes of proof answers sent (leaves and their Merkle paths, framed). */
  proofBytes: number
  /** Fragment bytes read and hashed to build proofs. */
  bytesHashed: number
}

/** Refusal codes that say the farmer could not prove a copy, rather than that the auditor asked wrongly or too much. */
const AUDIT_FAILURES = new Set(['NOT_FOUND', 'INTERNAL', 'TIMEOUT'])

const zeroOps = (): Record<Op, number> => Object.fromEntries(OPS.map(op => [op, 0])) as Record<Op, number>

/** Distinct readers a farmer remembers (a bounded set: a long-lived farmer serves many). */
export const MAX_READERS = 10_000

/** Counters of one farmer: its `FarmerService` and, when given them, its `AuditService`. */
export class FarmerMetrics {
  readonly #requests = zeroOps()
  readonly #succeeded = zeroOps()
  readonly #errors = new Map<string, number>()
  #resets = 0
  #putBytes = 0
  #getBytes = 0
  readonly #readers = new Set<string>()
  #activeStreams = 0
  #putBytesInFlight = 0
  #putBytesReserved = 0
  #getsInFlight = 0
  readonly #cut = new Map<string, number>()
  #store: StoreStat = { capacity: 0, used: 0, free: 0, count: 0 }
  #claimsExpired = 0
  #fragmentsCollected = 0
  #claimBytes = { active: 0, expired: 0 }
  readonly #audits = { proven: 0, busy: 0, failed: 0, rejected: 0, proofBytes: 0, bytesHashed: 0 }
  /** Refusal codes are the few wire codes, so this map stays small. */
  readonly #auditRefusals = new Map<string, number>()

  /** A request header was parsed. */
  request (op: Op): void { this.#requests[op]++ }
  /** A request was answered with success; `bytes` moved for PUT (received) or GET (sent). */
  success (op: Op, bytes = 0): void {
    this.#succeeded[op]++
    if (op === 'PUT') this.#putBytes += bytes
    if (op === 'GET') this.#getBytes += bytes
  }

  /** `peer` was sent a fragment. Distinct readers are remembered up to MAX_READERS, then only counted as that many. */
  reader (peer: string): void { if (this.#readers.size < MAX_READERS) this.#readers.add(peer) }

  /** A refusal with `code` was sent (or attempted). */
  error (code: string): void { this.#errors.set(code, (this.#errors.get(code) ?? 0) + 1) }
  /** The peer reset a stream before it was answered. */
  reset (): void { this.#resets++ }
  /** A stream opened (+1) or ended (-1). */
  streams (delta: number): void { this.#activeStreams += delta }
  /** PUT bytes taken from the farmer-wide budget grew or shrank. */
  inFlight (delta: number): void { this.#putBytesInFlight += delta }
  /** Declared PUT bytes reserved from peers' budgets grew or shrank. */
  putReserved (delta: number): void { this.#putBytesReserved += delta }
  /** A GET started (+1) or ended (-1). */
  gets (delta: number): void { this.#getsInFlight += delta }
  /** The farmer ended a stream for `reason` (`deadline` or `too-slow`). */
  cutStream (reason: string): void { this.#cut.set(reason, (this.#cut.get(reason) ?? 0) + 1) }
  /** Records the store's latest figures. */
  observeStore (stat: StoreStat): void { this.#store = { ...stat } }
  /** A collection removed `claims` expired claims and `fragments` fragments nobody claimed. */
  collected (claims: number, fragments: number): void {
    this.#claimsExpired += claims
    this.#fragmentsCollected += fragments
  }
  /** Records the payload bytes by claim state. */
  observeClaims (bytes: { active: number, expired: number }): void { this.#claimBytes = { ...bytes } }

  /** An audit was answered with a proof of `bytes` (the framed answer sent). */
  auditProven (bytes: number): void {
    this.#audits.proven++
    this.#audits.proofBytes += bytes
  }

  /** An audit was refused with `code`. */
  auditRefused (code: string): void {
    this.#auditRefusals.set(code, (this.#auditRefusals.get(code) ?? 0) + 1)
    if (code === 'BUSY') this.#audits.busy++
    else if (AUDIT_FAILURES.has(code)) this.#audits.failed++
    else this.#audits.rejected++
  }

  /** `bytes` of a fragment were read and hashed for an audit. */
  auditHashed (bytes: number): void { this.#audits.bytesHashed += bytes }

  /** A copy of the audit counters. */
  audits (): AuditCounters {
    return { ...this.#audits, refused: Object.fromEntries(this.#auditRefusals) }
  }

  /** A copy of every figure. */
  snapshot (): FarmerMetricsSnapshot {
    return {
      requests: { ...this.#requests },
      succeeded: { ...this.#succeeded },
      errors: Object.fromEntries(this.#errors),
      resets: this.#resets,
      putBytes: this.#putBytes,
      getBytes: this.#getBytes,
      readers: this.#readers.size,
      activeStreams: this.#activeStreams,
      putBytesInFlight: this.#putBytesInFlight,
      putBytesReserved: this.#putBytesReserved,
      getsInFlight: this.#getsInFlight,
      cut: Object.fromEntries(this.#cut),
      store: { ...this.#store },
      claimsExpired: this.#claimsExpired,
      fragmentsCollected: this.#fragmentsCollected,
      claimBytes: { ...this.#claimBytes },
      audits: this.audits()
    }
  }

  /** Prometheus text exposition format (version 0.0.4). */
  render (): string {
    const out = new PrometheusText()
    const metric = out.metric
    const byOp = (m: Record<Op, number>): Array<[string, number]> => OPS.map(op => [`{op="${op}"}`, m[op]])
    metric('shardfarm_farmer_fragments', 'gauge', 'Fragments held.', [['', this.#store.count]])
    metric('shardfarm_farmer_bytes_used', 'gauge', 'Fragment payload bytes held.', [['', this.#store.used]])
    metric('shardfarm_farmer_bytes_capacity', 'gauge', 'Quota in payload bytes.', [['', this.#store.capacity]])
    metric('shardfarm_farmer_bytes_free', 'gauge', 'Payload bytes a new PUT may take.', [['', this.#store.free]])
    metric('shardfarm_farmer_requests_total', 'counter', 'Requests received, by operation.', byOp(this.#requests))
    metric('shardfarm_farmer_requests_succeeded_total', 'counter', 'Requests answered with success, by operation.',
      byOp(this.#succeeded))
    metric('shardfarm_farmer_put_bytes_total', 'counter', 'Fragment bytes stored by PUT.', [['', this.#putBytes]])
    metric('shardfarm_farmer_get_bytes_total', 'counter', 'Fragment bytes sent by GET.', [['', this.#getBytes]])
    metric('shardfarm_farmer_errors_total', 'counter', 'Refusals sent, by wire code.',
      [...this.#errors].sort(([a], [b]) => a.localeCompare(b)).map(([code, n]) => [`{code="${code}"}`, n]))
    metric('shardfarm_farmer_streams_reset_total', 'counter', 'Streams the peer reset before an answer.',
      [['', this.#resets]])
    metric('shardfarm_farmer_streams_active', 'gauge', 'Fragment protocol streams open.', [['', this.#activeStreams]])
    metric('shardfarm_farmer_put_bytes_in_flight', 'gauge', 'PUT body bytes held in memory (taken as they arrive).',
      [['', this.#putBytesInFlight]])
    metric('shardfarm_farmer_put_bytes_reserved', 'gauge', 'Declared PUT bytes reserved from peers\' budgets.',
      [['', this.#putBytesReserved]])
    metric('shardfarm_farmer_gets_in_flight', 'gauge', 'GETs being served.', [['', this.#getsInFlight]])
    metric('shardfarm_farmer_streams_cut_total', 'counter', 'Streams the farmer ended for a missed deadline or a too slow transfer.',
      [...this.#cut].sort(([a], [b]) => a.localeCompare(b)).map(([reason, n]) => [`{reason="${reason}"}`, n]))
    metric('shardfarm_fragment_bytes', 'gauge', 'Fragment payload bytes by claim state: some live claim, or every lease ended.',
      [['{claims="active"}', this.#claimBytes.active], ['{claims="expired"}', this.#claimBytes.expired]])
    metric('shardfarm_claims_expired_total', 'counter', 'Claims removed because their lease ended.', [['', this.#claimsExpired]])
    metric('shardfarm_fragments_collected_total', 'counter', 'Fragments deleted because no claim was left.',
      [['', this.#fragmentsCollected]])
    const a = this.#audits
    metric('shardfarm_farmer_audits_total', 'counter',
      'Audits by outcome: proven, refused busy, failed (fragment missing, corrupt or unreadable, or too slow), rejected (malformed).',
      [['{result="proven"}', a.proven], ['{result="busy"}', a.busy], ['{result="failed"}', a.failed], ['{result="rejected"}', a.rejected]])
    metric('shardfarm_farmer_audit_refusals_total', 'counter', 'Audits refused, by wire code.',
      [...this.#auditRefusals].sort(([x], [y]) => x.localeCompare(y)).map(([code, n]) => [`{code="${code}"}`, n]))
    metric('shardfarm_farmer_audit_proof_bytes_total', 'counter', 'Bytes of proof answers sent (leaves and Merkle paths).', [['', a.proofBytes]])
    metric('shardfarm_farmer_audit_bytes_hashed_total', 'counter', 'Fragment bytes read and hashed to answer audits.', [['', a.bytesHashed]])
    return out.toString()
  }
}
