/**
 * The one place UI code turns an error into words. Every `catch` in the app goes through
 * `handleError`: it ignores aborts (the person asked for them) and finds the error's sentence in
 * the error catalogue by its stable `code` or `name` (never `instanceof`: errors from workers arrive
 * as plain objects).
 */
import { errorEntry } from '../../core/error-catalogue.ts'

export interface HumanError {
  /** A sentence for people. */
  message: string
  /** The stable code or name, for support and tests. */
  code: string
  /** What the person can do about it, when the catalogue says. */
  hint?: string
  /**
   * The error's own text (which farmers failed, and how), for whoever runs the grid or reports a
   * problem: shown folded away under the sentence. Absent when it would only repeat the sentence.
   */
  detail?: string
}

/** Characters of an error's own text shown as its detail; a longer one is cut. */
const MAX_DETAIL = 2000

/** `{ error }` with the human sentence for `err`, or `{}` for an abort: to spread into a state patch. */
export function errorOf (err: unknown): { error?: HumanError } {
  const h = handleError(err)
  return h === undefined ? {} : { error: h }
}

/** Human sentence for an error, or undefined for an abort. */
export function handleError (err: unknown): HumanError | undefined {
  const e = (err ?? {}) as { name?: string, code?: string, message?: string, details?: { reason?: string } }
  if (e.name === 'AbortError') return undefined
  const code = e.code ?? e.name ?? 'ERROR'
  const entry = errorEntry(err)
  let message = entry?.sentence
  // Placement errors carry the exact reason ("policy needs 3 regions, the grid has 2"): say it.
  const reason = e.name === 'PlacementError' && typeof e.details?.reason === 'string' ? e.details.reason : undefined
  if (message !== undefined && reason !== undefined) message = `${message} (${reason})`
  const said = message ?? `Something went wrong: ${e.message ?? String(err)}`
  const detail = typeof e.message === 'string' && e.message !== '' && !said.includes(e.message) && reason === undefined ? e.message.slice(0, MAX_DETAIL) : undefined
  return {
    code,
    message: said,
    ...(entry?.hint !== undefined ? { hint: entry.hint } : {}),
    ...(detail !== undefined ? { detail } : {})
  }
}
