import { describe, expect, it } from 'vitest'
import { codeOf, ERROR_CATALOGUE, EXIT, exitCodeOf } from './error-catalogue.ts'
import { AuthenticationError } from './envelope.ts'
import { CapabilityError } from './capability.ts'
import { PlacementError } from './placement.ts'
import { InvalidPolicyError } from './policy.ts'
import { QuotaExceededError } from './store-errors.ts'

describe('error catalogue', () => {
  it('gives the CLI exit statuses its users script against', () => {
    expect(exitCodeOf(new AuthenticationError('manifest'))).toBe(EXIT.AUTHENTICATION)
    expect(exitCodeOf(new PlacementError('too few farmers'))).toBe(EXIT.PLACEMENT)
    expect(exitCodeOf(new CapabilityError('no key'))).toBe(EXIT.USAGE)
    expect(exitCodeOf(new InvalidPolicyError('k must be ≥ 1'))).toBe(EXIT.USAGE)
    expect(exitCodeOf({ name: 'SegmentUnavailableError' })).toBe(EXIT.UNAVAILABLE)
    expect(exitCodeOf({ name: 'ContentMismatchError', code: 'CONTENT_MISMATCH' })).toBe(EXIT.AUTHENTICATION)
    expect(exitCodeOf(new QuotaExceededError(10, 10, 1))).toBe(EXIT.FAILURE)
    expect(exitCodeOf(new Error('boom'))).toBe(EXIT.FAILURE)
    expect(exitCodeOf(undefined)).toBe(EXIT.FAILURE)
  })

  it('finds an error by its name when a worker dropped its code, and prefers the code otherwise', () => {
    expect(codeOf({ name: 'WorkerCrashedError', message: 'x' })).toBe('WORKER_CRASHED')
    expect(codeOf({ name: 'FarmerError', code: 'QUOTA_EXCEEDED' })).toBe('QUOTA_EXCEEDED')
    expect(codeOf({ name: 'DirectoryError', code: 'STALE_RECORD' })).toBe('STALE_RECORD')
    expect(codeOf(Object.assign(new Error('enoent'), { code: 'ENOENT' }))).toBeUndefined()
    expect(codeOf(null)).toBeUndefined()
  })

  it('names each class under one code only', () => {
    const seen = new Map<string, string>()
    for (const [code, entry] of Object.entries(ERROR_CATALOGUE)) {
      for (const name of entry.names ?? []) {
        expect(seen.get(name), `${name} is listed under ${seen.get(name)} and ${code}`).toBeUndefined()
        seen.set(name, code)
      }
    }
  })
})
