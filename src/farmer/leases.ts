/**
 * Claims as a farmer keeps them: what each owner key and each uploading peer holds (for the
 * per-owner and per-peer limits), and the collector that ends expired leases.
 *
 * A fragment counts in full toward every owner that claims it, and toward the peer that last set
 * each claim: sharing a fragment does not make it cheaper for anyone, so no owner can hide bytes
 * behind another's claim. The counts are rebuilt from the store when the farmer starts and kept
 * exact from then on by applying the difference of every claim change the farmer makes.
 */
import type { FragmentClaim, FragmentStore } from '../core/fragment-store.ts'
import { FarmerError } from '../net/protocols/fragment-errors.ts'

/** Per-owner and per-peer byte limits. */
export interface ClaimLimits {
  maxBytesPerOwner: number
  maxBytesPerPeer: number
}

/** Bytes claimed by each owner key and each uploading peer. */
export class ClaimUsage {
  readonly #owners = new Map<string, number>()
  readonly #peers = new Map<string, number>()
  limits: ClaimLimits

  constructor (limits: ClaimLimits) {
    this.limits = limits
  }

  /** Recounts from the store's claims. */
  async rebuild (store: FragmentStore): Promise<void> {
    this.#owners.clear()
    this.#peers.clear()
    for await (const e of store.list()) this.apply(e.size, [], e.claims)
  }

  /** Bytes `owner` holds claims on. */
  owner (owner: string): number {
    return this.#owners.get(owner) ?? 0
  }

  /** Bytes whose claims `peer` set last. */
  peer (peer: string): number {
    return this.#peers.get(peer) ?? 0
  }

  /**
   * Throws `QUOTA_EXCEEDED` (`details.scope` `owner` or `peer`) when changing a fragment of `size`
   * bytes from `before` to `after` claims would take an owner or a peer past its limit. Only counts
   * that grow are checked: renewing or dropping a claim is always allowed.
   */
  check (size: number, before: readonly FragmentClaim[], after: readonly FragmentClaim[]): void {
    const grow = (key: (c: FragmentClaim) => string, count: (k: string) => number, limit: number, scope: 'owner' | 'peer'): void => {
      const had = new Set(before.map(key))
      for (const k of new Set(after.map(key))) {
        if (had.has(k) || k === '') continue
        const used = count(k)
        if (used + size > limit) {
          throw new FarmerError('QUOTA_EXCEEDED', `This ${scope} already holds ${used} of the ${limit} bytes a farmer keeps for one ${scope}`,
            { scope, limit, used, needed: size })
        }
      }
    }
    grow(c => c.owner, k => this.owner(k), this.limits.maxBytesPerOwner, 'owner')
    grow(c => c.peer, k => this.peer(k), this.limits.maxBytesPerPeer, 'peer')
  }

  /** Records a change of a fragment of `size` bytes from `before` to `after` claims. */
  apply (size: number, before: readonly FragmentClaim[], after: readonly FragmentClaim[]): void {
    for (const c of before) {
      add(this.#owners, c.owner, -size)
      add(this.#peers, c.peer, -size)
    }
    for (const c of after) {
      add(this.#owners, c.owner, size)
      add(this.#peers, c.peer, size)
    }
  }
}

function add (map: Map<string, number>, key: string, n: number): void {
  if (key === '') return
  const v = (map.get(key) ?? 0) + n
  if (v <= 0) map.delete(key)
  else map.set(key, v)
}

/** What one collection did and found. */
export interface CollectResult {
  /** Claims removed because their lease ended. */
  claimsExpired: number
  /** Fragments deleted because no claim was left. */
  fragmentsCollected: number
  /** Bytes freed by those deletions. */
  bytesFreed: number
}

/**
 * Ends the leases that ran out by `now` and deletes the fragments left with no claim. A claim that
 * ends further than one lease from `now` (an owner from the older format, or a lease set before the
 * operator shortened it) is brought back to `now + leaseMs`.
 */
export async function collectExpired (store: FragmentStore, usage: ClaimUsage, now: number, leaseMs: number,
  signal?: AbortSignal): Promise<CollectResult> {
  const result: CollectResult = { claimsExpired: 0, fragmentsCollected: 0, bytesFreed: 0 }
  const latest = now + leaseMs
  for await (const e of store.list({ ...(signal !== undefined ? { signal } : {}) })) {
    if (e.claims.every(c => c.expiresAt > now && c.expiresAt <= latest)) continue
    let before: readonly FragmentClaim[] = []
    let after: FragmentClaim[] = []
    const kept = await store.updateClaims(e.id, claims => {
      before = claims
      after = claims.filter(c => c.expiresAt > now).map(c => (c.expiresAt > latest ? { ...c, expiresAt: latest } : c))
      return after
    }).catch(() => undefined) // gone meanwhile, or a failed write: the next round tries again
    if (kept === undefined) continue
    usage.apply(e.size, before, after)
    result.claimsExpired += before.length - after.length
    if (after.length === 0) {
      result.fragmentsCollected++
      result.bytesFreed += e.size
    }
  }
  return result
}

/** Bytes of fragments with a live claim (`active`) and of those whose claims have all ended (`expired`). */
export async function bytesByClaimState (store: FragmentStore, now: number): Promise<{ active: number, expired: number }> {
  let active = 0
  let expired = 0
  for await (const e of store.list()) {
    if (e.claims.some(c => c.expiresAt > now)) active += e.size
    else expired += e.size
  }
  return { active, expired }
}
