/**
 * The audit port: how client operations challenge a farmer to prove it still holds a fragment,
 * without knowing the transport. `AuditClient` (`adapters/audit-client.ts`) implements it over
 * libp2p with the `/shardfarm/audit/1.0.0` protocol.
 */
import type { AbortOptions } from '../core/errors.ts'
import type { FarmerRef } from './ports.ts'

/** What one audit found. */
export interface AuditOutcome {
  /**
   * `proven`: every challenged leaf verified against the root. `failed`: a proof that does not
   * verify, a wrong size, or a malformed or wrong answer. `missing`: the farmer says it does not
   * hold the fragment.
   */
  verdict: 'proven' | 'failed' | 'missing'
  /** Why it failed, for logs. */
  reason?: string
  /** Wall time of the exchange, dial included. */
  ms: number
  /** Bytes on the wire, request and answer. */
  bytes: number
}

/** The fragment to audit: its id, its Merkle root (hex) and its size, as the manifest records them. */
export interface AuditedFragment {
  id: string
  root: string
  size: number
}

/** Audits farmers. Transport failures (unreachable, timeout) reject with a typed error: they prove nothing either way. */
export interface AuditTransport {
  audit(farmer: FarmerRef, fragment: AuditedFragment, options?: AbortOptions): Promise<AuditOutcome>
}
