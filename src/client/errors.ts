import { ShardfarmError } from '../core/errors.ts'

/** A "tried" list for a message: each farmer by the end of its peer id, with its error code and, when given, its own text (cut to 200 characters). */
function triedText (tried: ReadonlyArray<{ peerId: string, error: string, reason?: string }>): string {
  return tried.map(t => `${t.peerId.slice(-8)} (${t.error}${t.reason === undefined || t.reason === t.error ? '' : `: ${t.reason.slice(0, 200)}`})`).join(', ')
}

/** Fewer than k valid fragments of a segment could be fetched. */
export class SegmentUnavailableError extends ShardfarmError {
  constructor (segment: number, needed: number, got: number, tried: Array<{ peerId: string, error: string }>) {
    const who = triedText(tried)
    super('SegmentUnavailableError', 'SEGMENT_UNAVAILABLE',
      `Segment ${segment} cannot be rebuilt: ${got} of the ${needed} fragments it needs are reachable. Tried: ${who}`,
      { segment, needed, got, tried })
  }
}

/** No holder named in the capability returned the manifest. */
export class ManifestUnavailableError extends ShardfarmError {
  constructor (tried: Array<{ peerId: string, error: string }>) {
    super('ManifestUnavailableError', 'MANIFEST_UNAVAILABLE',
      `None of the ${tried.length} farmers holding the file's manifest answered with it`, { tried })
  }
}

/**
 * Every holder of the manifest answered that it does not have it: the owner deleted the file, or
 * the link names a manifest that never existed (a mistyped or altered link).
 */
export class FileNotFoundError extends ShardfarmError {
  constructor (tried: Array<{ peerId: string, error: string }>) {
    super('FileNotFoundError', 'FILE_NOT_FOUND',
      `None of the ${tried.length} farmers holding the file's manifest has it: the file was deleted, or the link is wrong`, { tried })
  }
}

/**
 * A farmer answered with a manifest whose bytes do not hash to the id the link names: it holds
 * other bytes than were stored (changed, or never the right ones).
 */
export class ManifestHashMismatchError extends ShardfarmError {
  constructor () {
    super('ManifestHashMismatchError', 'HASH_MISMATCH', 'The manifest does not hash to its id')
  }
}

/** A fragment could not be stored on any eligible farmer. `reason` is each failure's own text. */
export class FragmentUndeliverableError extends ShardfarmError {
  constructor (segment: number, fragment: number, tried: Array<{ peerId: string, error: string, reason?: string }>) {
    const who = triedText(tried)
    super('FragmentUndeliverableError', 'FRAGMENT_UNDELIVERABLE',
      `Fragment ${fragment} of segment ${segment} could not be stored: ${tried.length} farmers refused or failed${who === '' ? '' : `. Tried: ${who}`}`,
      { segment, fragment, tried })
  }
}

/**
 * A resumed upload read different bytes for a segment it had stored before: the file changed
 * although its size and modification time did not. The journal is dropped; the next try starts over.
 */
export class SourceChangedError extends ShardfarmError {
  constructor (segment: number) {
    super('SourceChangedError', 'SOURCE_CHANGED',
      `The file changed since this upload began (segment ${segment} reads differently); run the upload again to start over`, { segment })
  }
}

/** The downloaded plaintext does not match the manifest's content hash. */
export class ContentMismatchError extends ShardfarmError {
  constructor () {
    super('ContentMismatchError', 'CONTENT_MISMATCH', 'The downloaded file does not match its content hash')
  }
}

/** Codes of failures that may pass: a dial that timed out, a reset connection, a farmer busy for now. */
export const TRANSIENT_CODES: ReadonlySet<string> = new Set(['UNREACHABLE', 'TIMEOUT', 'BUSY'])

/** A short description of an error for "tried" lists. */
export function describe (err: unknown): string {
  if (err instanceof Error) return (err as { code?: string }).code ?? err.name
  return String(err)
}

/**
 * A farmer answered that it already holds a fragment but could not prove it: its proof was missing
 * or did not match the bytes the uploader holds. The uploader counts that farmer as failed for the
 * fragment and places it elsewhere. Raised by the client whatever the transport.
 */
export class PossessionProofError extends ShardfarmError {
  constructor (id: string, farmer: string, reason: 'missing' | 'mismatch') {
    super('PossessionProofError', 'POSSESSION_PROOF_FAILED',
      `Farmer ${farmer.slice(-8)} says it holds fragment ${id.slice(0, 8)}… but ${reason === 'missing' ? 'sent no proof' : 'its proof does not match'}`,
      { id, farmer, reason })
  }
}
