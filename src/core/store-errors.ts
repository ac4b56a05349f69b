/**
 * Errors raised by `FragmentStore` adapters. Their `code`s are the ones the fragment protocol puts
 * on the wire (`BAD_REQUEST`, `HASH_MISMATCH`, `QUOTA_EXCEEDED`, `NOT_FOUND`, …), so a farmer can
 * forward `err.code` unchanged. Callers test `err.name` (see `errors.ts` for why).
 */
import { ShardfarmError } from './errors.ts'

/** Longest slice of a rejected id echoed back in `details`, so a hostile id cannot bloat logs. */
const ID_PREVIEW = 80

/** The id is not 64 lowercase hex characters. Thrown before the id gets anywhere near a file path. */
export class InvalidFragmentIdError extends ShardfarmError {
  constructor (id: unknown) {
    const preview = typeof id === 'string' ? id.slice(0, ID_PREVIEW) : typeof id
    super('InvalidFragmentIdError', 'BAD_REQUEST',
      'Fragment id must be the lowercase hex SHA-256 of its bytes (64 characters)', { id: preview })
  }
}

/** Fragments are at least one byte: an empty fragment is always a caller bug. */
export class EmptyFragmentError extends ShardfarmError {
  constructor (id: string) {
    super('EmptyFragmentError', 'BAD_REQUEST', 'A fragment must hold at least one byte', { id })
  }
}

/** `FragmentMeta` is malformed, e.g. an owner that is not a base64 32-byte Ed25519 key. */
export class InvalidFragmentMetaError extends ShardfarmError {
  constructor (message: string, details: Record<string, unknown> = {}) {
    super('InvalidFragmentMetaError', 'BAD_REQUEST', message, details)
  }
}

/**
 * A fragment already carries `MAX_CLAIMS_PER_FRAGMENT` claims and a new owner asked for one more.
 * Carried on the wire as `QUOTA_EXCEEDED` with `details.scope` `claims`: the farmer is full for
 * this fragment, not for bytes.
 */
export class ClaimLimitError extends ShardfarmError {
  constructor (id: string, limit: number) {
    super('ClaimLimitError', 'QUOTA_EXCEEDED', `Fragment already has the most claims a farmer keeps (${limit})`,
      { id, limit, scope: 'claims' })
  }
}

/** The bytes offered do not hash to the id they were offered under. Nothing was stored. */
export class HashMismatchError extends ShardfarmError {
  constructor (id: string, actual: string) {
    super('HashMismatchError', 'HASH_MISMATCH', 'Fragment bytes do not hash to the given id', { id, actual })
  }
}

/**
 * Storing the fragment would take the store past its quota. `used` counts bytes already stored
 * plus bytes reserved by puts still in flight, since those are promised too.
 */
export class QuotaExceededError extends ShardfarmError {
  constructor (quota: number, used: number, needed: number) {
    super('QuotaExceededError', 'QUOTA_EXCEEDED',
      `Quota exceeded: ${needed} bytes needed, ${quota - used} of ${quota} free`, { quota, used, needed })
  }
}

/** The store does not hold this fragment. */
export class FragmentNotFoundError extends ShardfarmError {
  constructor (id: string) {
    super('FragmentNotFoundError', 'NOT_FOUND', 'Fragment not found', { id })
  }
}

/**
 * The stored bytes no longer hash to their id (bit rot, a bad disk, tampering). The store has
 * already dropped the fragment, so `has()` now answers false and the owner can repair it.
 */
export class CorruptFragmentError extends ShardfarmError {
  constructor (id: string) {
    super('CorruptFragmentError', 'CORRUPT_FRAGMENT', 'Stored fragment is corrupt and was removed', { id })
  }
}

/** The device itself is full (ENOSPC / EDQUOT), whatever the quota says. */
export class DiskFullError extends ShardfarmError {
  constructor (syscallCode: string, details: Record<string, unknown> = {}) {
    super('DiskFullError', 'DISK_FULL', 'The disk is full', { ...details, syscallCode })
  }
}

/** The store was closed; a closed store refuses every operation. */
export class StoreClosedError extends ShardfarmError {
  constructor () {
    super('StoreClosedError', 'STORE_CLOSED', 'The fragment store is closed')
  }
}
