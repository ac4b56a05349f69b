/**
 * Dispersing a segment: its k + m fragments PUT to the farmers placement chose, with failover to
 * spares; and the sealed manifest replicated. Shared by every upload, streaming or from the outbox.
 */
import { AbortError, throwIfAborted } from '../../core/errors.ts'
import { sleep } from '../../core/sleep.ts'
import type { OwnerKey } from '../../core/owner-key.ts'
import { chooseTargets, type ChoiceOptions, type Placement } from '../../core/placement.ts'
import { describe, FragmentUndeliverableError, TRANSIENT_CODES } from '../errors.ts'
import type { Farmer, FragmentTransport } from '../ports.ts'

/** Retry a fragment on this many other farmers before giving up. */
const MAX_ALTERNATES = 4

/**
 * Waits before asking a farmer that failed transiently once more, when no other farmer is left for
 * its fragment: on a grid with no spare (a `mixed` upload that fills every place), one WebRTC dial
 * that timed out on a busy machine would otherwise fail the whole upload.
 */
export const RETRY_WAITS_MS: readonly number[] = [500, 2_000]

/**
 * The farmers the policy allows (`placement.eligible`). The manifest goes only to them: a region or
 * tier rule covers the file's metadata as well as its data.
 */
export function eligibleFarmers (farmers: Farmer[], placement: Placement): Farmer[] {
  const ok = new Set(placement.eligible)
  return farmers.filter(f => ok.has(f.peerId))
}

/** What a `Disperser` needs: where fragments go and who owns them. */
export interface DisperserInit {
  transport: FragmentTransport
  placement: Placement
  byId: Map<string, Farmer>
  owner: OwnerKey
  signal?: AbortSignal
  /** Called with the size of every fragment actually sent. */
  onSent?: (bytes: number) => void
  /** How manifest copies are drawn (weights, random source, clock). @default `chooseTargets` defaults */
  choice?: Pick<ChoiceOptions, 'weight' | 'random' | 'now'>
  /** Waits before each new try of a farmer that failed transiently, with no spare left. @default RETRY_WAITS_MS */
  retryWaitsMs?: readonly number[]
}

/**
 * Puts fragments on farmers with failover; shared by the streaming upload and the offline outbox.
 */
export class Disperser {
  readonly #c: DisperserInit
  readonly #failed = new Set<string>()
  /** Of `#failed`, those that refused or answered wrong (not a moment's failure): never asked again. */
  readonly #refused = new Set<string>()
  /** Fragment bytes sent so far. */
  sent = 0

  constructor (init: DisperserInit) {
    this.#c = init
  }

  /** The owner whose public key every stored fragment carries. */
  get owner (): OwnerKey {
    return this.#c.owner
  }

  /**
   * PUTs the k + m fragments in parallel, each to its placed farmer; a fragment whose farmer fails
   * moves to the next spare not yet used by this segment. Farmers that failed once are passed over
   * for spares for the rest of the upload; with no spare left, one that failed for a moment
   * (`TRANSIENT_CODES`) is asked again, after `retryWaitsMs`, and one that refused is not. On a
   * resumed upload, a farmer already holding a fragment proves it instead of taking the bytes again
   * (`FragmentTransport.put`).
   * `kept[i]`, when not empty, lists farmers known to hold fragment i already: it is not sent, and
   * those farmers get no other fragment of the segment.
   */
  async storeSegment (s: number, frags: Uint8Array[], ids: string[], kept: string[][] = []): Promise<string[][]> {
    const { signal, placement, byId, owner } = this.#c
    const waits = this.#c.retryWaitsMs ?? RETRY_WAITS_MS
    const keeping = new Set(kept.flat())
    const placed = placement.segments[s]!
    const sending = (i: number): boolean => (kept[i]?.length ?? 0) === 0
    const inUse = new Set([...placed.filter((_, i) => sending(i)), ...keeping])
    // The farmers placed for kept fragments are free to take a lost one.
    const spares = [...placed.filter((_, i) => !sending(i)), ...placement.spares[s] ?? []].filter(p => !this.#failed.has(p))
    const putOne = async (i: number): Promise<string[]> => {
      if (!sending(i)) return kept[i]!
      const tried: Array<{ peerId: string, error: string, reason: string }> = []
      // The positions kept on full farmers fail over to full farmers only.
      const fits = i < placement.onFull ? (p: string) => byId.get(p)?.kind === 'full' : () => true
      const own = placed[i]!
      // A farmer that failed earlier in this upload is passed over for a spare, but asked again when
      // none is left, unless it refused: it may be back.
      let target: string | undefined = own
      if (this.#failed.has(own) || keeping.has(own)) target = this.#takeSpare(spares, inUse, fits) ?? (keeping.has(own) || this.#refused.has(own) ? undefined : own)
      let waited = 0
      while (target !== undefined && tried.length <= MAX_ALTERNATES) {
        const farmer = byId.get(target)!
        try {
          throwIfAborted(signal)
          // A farmer that holds the fragment already (a resumed upload) answers before the bytes
          // move, with a proof over a fresh nonce that it holds these very bytes; its word alone
          // (HAS) is not taken.
          const put = await this.#c.transport.put(farmer, ids[i]!, frags[i]!, { signal, owner })
          if (put?.stored !== false) {
            this.sent += frags[i]!.length
            this.#c.onSent?.(frags[i]!.length)
          }
          this.#failed.delete(target)
          return [target]
        } catch (err) {
          if (signal?.aborted === true) throw new AbortError()
          const code = describe(err)
          tried.push({ peerId: target, error: code, reason: (err as Error).message ?? String(err) })
          this.#failed.add(target)
          if (!TRANSIENT_CODES.has(code)) this.#refused.add(target)
          const next = this.#takeSpare(spares, inUse, fits)
          if (next === undefined && TRANSIENT_CODES.has(code) && waited < waits.length) {
            await sleep(waits[waited++]!, signal)
            continue // the same farmer, once more
          }
          target = next
        }
      }
      throw new FragmentUndeliverableError(s, i, tried)
    }
    return await Promise.all(frags.map(async (_, i) => await putOne(i)))
  }

  /** The first spare that `fits` and is neither in use nor failed (those are dropped on the way); it is taken. */
  #takeSpare (spares: string[], inUse: Set<string>, fits: (peer: string) => boolean): string | undefined {
    for (let j = 0; j < spares.length; j++) {
      const p = spares[j]!
      if (inUse.has(p) || this.#failed.has(p)) { spares.splice(j--, 1); continue }
      if (!fits(p)) continue
      spares.splice(j, 1)
      inUse.add(p)
      return p
    }
    return undefined
  }

  /**
   * Replicates the sealed manifest on `copies` of `farmers` (losing all but one of them loses
   * nothing): vetted farmers only, drawn at random (weighted), on distinct subnets where the grid
   * has them; a copy whose farmer fails goes to the next one drawn. Fewer copies only when fewer
   * vetted farmers answer.
   */
  async storeManifest (sealed: Uint8Array, id: string, farmers: Farmer[], copies: number): Promise<string[]> {
    const { signal, owner } = this.#c
    const candidates = chooseTargets(farmers, { count: farmers.length, bytes: sealed.length, purpose: 'manifest' },
      { ...this.#c.choice, exclude: this.#failed })
    const holders: string[] = []
    const tried: Array<{ peerId: string, error: string }> = []
    for (const f of candidates) {
      if (holders.length >= copies) break
      try {
        await this.#c.transport.put(f, id, sealed, { signal, owner })
        holders.push(f.peerId)
      } catch (err) {
        if (signal?.aborted === true) throw new AbortError()
        tried.push({ peerId: f.peerId, error: describe(err) })
      }
    }
    if (holders.length === 0) throw new FragmentUndeliverableError(-1, 0, tried)
    return holders
  }
}
