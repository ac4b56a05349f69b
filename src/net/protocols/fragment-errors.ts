/**
 * Errors of the fragment protocol. A farmer answers every refusal with one of `WIRE_CODES` in a
 * response frame; the client turns it back into a `FarmerError` whose `code` is the wire code and
 * whose `name` comes from `ERROR_NAMES`. The names match the `FragmentStore` errors where the meaning
 * is the same (`QuotaExceededError`, `FragmentNotFoundError`, …), so UI code that maps `err.name` to a
 * sentence treats a local store and a remote farmer alike.
 */
import { ShardfarmError } from '../../core/errors.ts'

/** Codes a farmer may put on the wire. A client must accept unknown codes too (newer farmers). */
export const WIRE_CODES = [
  'HASH_MISMATCH', 'TOO_LARGE', 'QUOTA_EXCEEDED', 'NOT_FOUND', 'BAD_REQUEST', 'FORBIDDEN',
  'DISK_FULL', 'CORRUPT_FRAGMENT', 'TIMEOUT', 'BUSY', 'INTERNAL'
] as const
/** One refusal code of the fragment protocol. */
export type WireCode = typeof WIRE_CODES[number]

/**
 * Codes only a client raises, never sent by a farmer: the farmer could not be reached or the stream
 * broke before an answer (`UNREACHABLE`, the only code a client retries), or the farmer's answer
 * broke the protocol (`BAD_RESPONSE`).
 */
export type ClientCode = 'UNREACHABLE' | 'BAD_RESPONSE'

/** Stable `name` of the error for each code. */
export const ERROR_NAMES: Readonly<Record<WireCode | ClientCode, string>> = {
  HASH_MISMATCH: 'HashMismatchError',
  TOO_LARGE: 'TooLargeError',
  QUOTA_EXCEEDED: 'QuotaExceededError',
  NOT_FOUND: 'FragmentNotFoundError',
  BAD_REQUEST: 'BadRequestError',
  FORBIDDEN: 'ForbiddenError',
  DISK_FULL: 'DiskFullError',
  CORRUPT_FRAGMENT: 'CorruptFragmentError',
  TIMEOUT: 'TimeoutError',
  BUSY: 'FarmerBusyError',
  INTERNAL: 'FarmerInternalError',
  UNREACHABLE: 'FarmerUnreachableError',
  BAD_RESPONSE: 'BadResponseError'
}

/** True when `code` is one of `WIRE_CODES`. */
export function isWireCode (code: unknown): code is WireCode {
  return typeof code === 'string' && (WIRE_CODES as readonly string[]).includes(code)
}

/**
 * A refusal or failure of the fragment protocol, on either side. `details.remote` is true when the
 * farmer sent the code, false when the client decided it (a timeout, a broken stream, a GET whose
 * bytes do not hash to the id).
 */
export class FarmerError extends ShardfarmError {
  constructor (code: string, message: string, details: Record<string, unknown> = {}) {
    super(ERROR_NAMES[code as WireCode] ?? 'FarmerError', code, message, details)
  }
}

/**
 * The code a farmer sends for `err`: a `ShardfarmError` whose code is a wire code keeps it (store
 * errors already use them); anything else is `INTERNAL`, with no internals leaked to the peer.
 */
export function toWireCode (err: unknown): WireCode {
  if (err instanceof ShardfarmError && isWireCode(err.code)) return err.code
  return 'INTERNAL'
}
