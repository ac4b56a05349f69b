/**
 * The two clocks of one farmer stream: an absolute deadline, scaled by the fragment it moves, and a
 * minimum transfer rate while the farmer waits on the peer. Either one fires `onViolation` once with
 * a `TIMEOUT` error whose `details.reason` is `deadline` or `too-slow`. A slowloris (a PUT that
 * trickles, a GET whose reader never reads) so lasts one rate window, however it is paced.
 */
import { FarmerError } from '../net/protocols/fragment-errors.ts'
import { MAX_FRAGMENT_BYTES } from '../net/protocols/fragment-constants.ts'
import type { TransferWatch } from './operations.ts'

/** The guard's limits (all given: defaults are filled in by `FarmerService`). */
export interface StreamGuardLimits {
  /** Lifetime of a stream moving a full-size fragment. */
  deadlineMs: number
  /** Shortest lifetime of any stream. */
  minDeadlineMs: number
  minBytesPerSecond: number
  rateWindowMs: number
}

/** Watches one stream; `clear()` when it is done. */
export class StreamGuard implements TransferWatch {
  readonly #limits: StreamGuardLimits
  readonly #onViolation: (err: FarmerError) => void
  readonly #start = Date.now()
  #deadline: ReturnType<typeof setTimeout> | undefined
  #window: ReturnType<typeof setInterval> | undefined
  /** Bytes still due from the peer at the start of the current window, and moved since. */
  #dueAtWindowStart = 0
  #due = 0
  #movedInWindow = 0
  #done = false

  constructor (limits: StreamGuardLimits, onViolation: (err: FarmerError) => void) {
    this.#limits = limits
    this.#onViolation = onViolation
    this.#arm(limits.minDeadlineMs)
  }

  /** The absolute deadline for a stream moving `bytes` of fragment, from when it opened. */
  size (bytes: number): void {
    const { deadlineMs, minDeadlineMs } = this.#limits
    this.#arm(Math.max(minDeadlineMs, Math.ceil(deadlineMs * bytes / MAX_FRAGMENT_BYTES)))
  }

  expect (bytes: number): void {
    if (this.#done) return
    clearInterval(this.#window)
    this.#due = bytes
    this.#dueAtWindowStart = bytes
    this.#movedInWindow = 0
    this.#window = setInterval(() => { this.#tick() }, this.#limits.rateWindowMs)
  }

  moved (bytes: number): void {
    this.#due -= bytes
    this.#movedInWindow += bytes
  }

  idle (): void {
    clearInterval(this.#window)
    this.#window = undefined
  }

  clear (): void {
    this.#done = true
    clearTimeout(this.#deadline)
    this.idle()
  }

  #arm (lifetimeMs: number): void {
    if (this.#done) return
    clearTimeout(this.#deadline)
    this.#deadline = setTimeout(() => {
      this.#fire(new FarmerError('TIMEOUT', 'Stream missed its deadline', { reason: 'deadline', deadlineMs: lifetimeMs }))
    }, Math.max(0, this.#start + lifetimeMs - Date.now()))
  }

  #tick (): void {
    const { minBytesPerSecond, rateWindowMs } = this.#limits
    const required = Math.min(Math.ceil(minBytesPerSecond * rateWindowMs / 1000), this.#dueAtWindowStart)
    if (this.#movedInWindow < Math.max(1, required)) {
      this.#fire(new FarmerError('TIMEOUT', 'Stream moved too slowly', {
        reason: 'too-slow', minBytesPerSecond, windowMs: rateWindowMs, moved: this.#movedInWindow
      }))
      return
    }
    this.#dueAtWindowStart = this.#due
    this.#movedInWindow = 0
  }

  #fire (err: FarmerError): void {
    if (this.#done) return
    this.clear()
    this.#onViolation(err)
  }
}
