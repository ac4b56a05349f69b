/**
 * The keeper's repair bandwidth limit: a token bucket in bytes, and a transport that draws every
 * byte a repair fetches or stores from it. Repair traffic then never crowds out the people reading
 * and writing through the same link.
 */
import { AbortError, throwIfAborted } from '../core/errors.ts'
import type { FragmentTransport } from '../client/ports.ts'

/** A token bucket of bytes: `take(n)` waits until n bytes may move. */
export class ByteBucket {
  readonly #rate: number
  readonly #burst: number
  #tokens: number
  #at: number
  readonly #now: () => number

  /**
   * @param bytesPerSecond sustained rate (Infinity: no limit)
   * @param burst most bytes saved up while idle @default one second's worth, at least 1 MiB
   */
  constructor (bytesPerSecond: number, burst = Math.max(bytesPerSecond, 1 << 20), now = () => Date.now()) {
    if (!(bytesPerSecond > 0)) throw new RangeError('a byte rate must be positive')
    this.#rate = bytesPerSecond
    this.#burst = burst
    this.#tokens = burst
    this.#now = now
    this.#at = now()
  }

  /** Waits until `n` bytes may move, then takes them (a chunk bigger than the burst goes into debt). */
  async take (n: number, signal?: AbortSignal): Promise<void> {
    if (this.#rate === Infinity) return
    for (;;) {
      throwIfAborted(signal)
      const t = this.#now()
      this.#tokens = Math.min(this.#burst, this.#tokens + (t - this.#at) / 1000 * this.#rate)
      this.#at = t
      if (this.#tokens >= Math.min(n, this.#burst)) { this.#tokens -= n; return }
      const waitMs = Math.ceil((Math.min(n, this.#burst) - this.#tokens) / this.#rate * 1000)
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(resolve, waitMs)
        signal?.addEventListener('abort', () => { clearTimeout(timer); reject(new AbortError()) }, { once: true })
      })
    }
  }
}

/**
 * `transport` with GETs and PUTs drawn from `bucket`, and the bytes reported to `moved`. The other
 * calls (HAS, RENEW, DELETE) are small and pass as they are.
 */
export function throttledTransport (transport: FragmentTransport, bucket: ByteBucket,
  moved: (direction: 'in' | 'out', bytes: number) => void): FragmentTransport {
  return {
    ...(transport.verifiesHashes !== undefined ? { verifiesHashes: transport.verifiesHashes } : {}),
    has: async (f, ids, o) => await transport.has(f, ids, o),
    delete: async (f, id, owner, o) => { await transport.delete(f, id, owner, o) },
    renew: async (f, ids, owner, o) => await transport.renew(f, ids, owner, o),
    get: async (f, id, o) => {
      const bytes = await transport.get(f, id, o)
      moved('in', bytes.length)
      await bucket.take(bytes.length, o?.signal)
      return bytes
    },
    put: async (f, id, bytes, o) => {
      await bucket.take(bytes.length, o.signal)
      const r = await transport.put(f, id, bytes, o)
      moved('out', bytes.length)
      return r
    }
  }
}
