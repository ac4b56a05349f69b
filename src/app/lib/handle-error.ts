/**
 * The one place UI code turns an error into words. Every `catch` in the app goes through
 * `handleError`: it ignores aborts (the person asked for them) and maps the error's stable `name`
 * or `code` (never `instanceof`: errors from workers arrive as plain objects) to a sentence.
 */
const SENTENCES: Record<string, string> = {
  AuthenticationError: 'This link does not open this file: it was changed or is incomplete. Ask the sender for the link again.',
  CapabilityError: 'This is not a valid Shardfarm link. Check that you copied all of it.',
  ContentMismatchError: 'The file came back different from what was stored, so it was not saved. Try again later.',
  ManifestUnavailableError: 'None of the farmers holding this file\'s index answered. They may be offline; try again later.',
  FileNotFoundError: 'This file is no longer on the grid: its owner deleted it, or the link is not complete.',
  SegmentUnavailableError: 'Too many farmers holding parts of this file are offline right now to rebuild it. Try again later.',
  FragmentUndeliverableError: 'Not enough farmers accepted the file\'s fragments. It stays queued and will be retried.',
  PlacementError: 'The grid has too few suitable farmers for this storage policy.',
  QUOTA_EXCEEDED: 'The farmer\'s storage offer is full.',
  DISK_FULL: 'This browser has no storage space left for Shardfarm.',
  STORAGE_EVICTED: 'The browser cleared the storage this page offered to the grid (low disk space or site data cleared). Offer storage again to rejoin.',
  NOT_ENOUGH_SHARDS: 'Too few fragments survived to rebuild the file.',
  WorkerCrashedError: 'A background worker stopped unexpectedly. Please try again.',
  OFFLINE: 'You are offline. The upload is saved and will be sent when the grid is reachable again.',
  NO_GRID: 'No grid found. Start one with `npm start`, or set the relay address in Network.'
}

export interface HumanError {
  /** A sentence for people. */
  message: string
  /** The stable code or name, for support and tests. */
  code: string
}

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
  let message = SENTENCES[e.name ?? ''] ?? SENTENCES[code]
  // Placement errors carry the exact reason ("policy needs 3 regions, the grid has 2"): say it.
  if (e.name === 'PlacementError' && typeof e.details?.reason === 'string') message = `${SENTENCES.PlacementError} (${e.details.reason})`
  return { code, message: message ?? `Something went wrong: ${e.message ?? String(err)}` }
}
