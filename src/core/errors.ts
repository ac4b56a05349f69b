/**
 * Every error Shardfarm throws on purpose is a `ShardfarmError` with a stable `name` and `code`.
 *
 * Callers test `err.name`, never `instanceof`: comlink carries only `name`, `message` and `stack`
 * across a worker boundary, so class identity and extra fields are lost there. The `code` doubles
 * as the key the UI uses to pick a human sentence, and as the code sent on the wire.
 */
export class ShardfarmError extends Error {
  /** Stable machine-readable code, e.g. `NOT_ENOUGH_SHARDS`. */
  readonly code: string
  /** Structured details (counts, ids); never secrets. */
  readonly details: Readonly<Record<string, unknown>>

  constructor (name: string, code: string, message: string, details: Record<string, unknown> = {}) {
    super(message)
    this.name = name
    this.code = code
    this.details = details
  }
}

/** Options of every long or remote operation. */
export interface AbortOptions {
  /** Aborting rejects the call with `AbortError`; an operation aborted before it commits changes nothing. */
  signal?: AbortSignal
}

/** The operation was aborted through its `AbortSignal`. Same name as the DOM's `AbortError`. */
export class AbortError extends ShardfarmError {
  constructor (message = 'The operation was aborted') {
    super('AbortError', 'ABORTED', message)
  }
}

/** Throws an `AbortError` when `signal` is already aborted. */
export function throwIfAborted (signal?: AbortSignal): void {
  if (signal?.aborted === true) throw new AbortError()
}

/** True for any abort, ours or the platform's (`DOMException` named `AbortError`). */
export function isAbortError (err: unknown): boolean {
  return err instanceof Error && (err.name === 'AbortError' || err.name === 'TimeoutError')
}
