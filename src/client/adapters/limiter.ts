/**
 * A small semaphore per key: at most `max` tasks run at once for one farmer, the rest wait in
 * arrival order. Waiting is abortable, and a key with nothing running or waiting is forgotten so
 * the map does not grow with every farmer ever contacted.
 */

interface Slot { active: number, waiting: Array<() => void> }

/** Bounds concurrent tasks per key (here: per farmer peer id). */
export class KeyedLimiter {
  readonly #max: number
  readonly #slots = new Map<string, Slot>()

  constructor (max: number) {
    if (!Number.isSafeInteger(max) || max < 1) throw new RangeError('max must be a positive integer')
    this.#max = max
  }

  /** Runs `task` once a slot for `key` is free; rejects with `signal.reason` if aborted while waiting. */
  async run<T> (key: string, signal: AbortSignal | undefined, task: () => Promise<T>): Promise<T> {
    await this.#acquire(key, signal)
    try {
      return await task()
    } finally {
      this.#release(key)
    }
  }

  /** Tasks running now for `key` (for tests and metrics). */
  active (key: string): number {
    return this.#slots.get(key)?.active ?? 0
  }

  async #acquire (key: string, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted()
    let slot = this.#slots.get(key)
    if (slot === undefined) {
      slot = { active: 0, waiting: [] }
      this.#slots.set(key, slot)
    }
    if (slot.active < this.#max) {
      slot.active++
      return
    }
    const s = slot
    await new Promise<void>((resolve, reject) => {
      const grant = (): void => {
        signal?.removeEventListener('abort', onAbort)
        resolve()
      }
      const onAbort = (): void => {
        s.waiting.splice(s.waiting.indexOf(grant), 1)
        reject(signal?.reason)
      }
      s.waiting.push(grant)
      signal?.addEventListener('abort', onAbort, { once: true })
    })
  }

  #release (key: string): void {
    const slot = this.#slots.get(key)
    if (slot === undefined) return
    const next = slot.waiting.shift()
    // The slot passes straight to the next waiter, so `active` stays put and no one can jump the queue.
    if (next !== undefined) {
      next()
      return
    }
    slot.active--
    if (slot.active === 0) this.#slots.delete(key)
  }
}
