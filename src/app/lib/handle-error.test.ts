import { describe, it, expect } from 'vitest'
import { handleError } from './handle-error.ts'
import { AuthenticationError } from '../../core/envelope.ts'
import { PlacementError } from '../../core/placement.ts'
import { FragmentUndeliverableError } from '../../client/errors.ts'

describe('handleError', () => {
  it('ignores aborts and speaks human for typed errors, even as plain objects from a worker', () => {
    expect(handleError(new DOMException('x', 'AbortError'))).toBeUndefined()
    expect(handleError(new AuthenticationError('manifest'))?.message).toMatch(/link does not open this file/)
    expect(handleError({ name: 'WorkerCrashedError', message: 'x' })?.code).toBe('WorkerCrashedError')
    expect(handleError(new PlacementError('policy "archive" needs 3 regions, the grid has 2'))?.message).toMatch(/needs 3 regions, the grid has 2/)
    expect(handleError({ name: 'FarmerError', code: 'QUOTA_EXCEEDED' })?.message).toMatch(/offer is full/)
    expect(handleError(new Error('boom'))?.message).toBe('Something went wrong: boom')
  })

  it('keeps the error\'s own text, naming the farmers that failed, as a detail under the sentence', () => {
    const err = new FragmentUndeliverableError(0, 5, [{ peerId: '12D3KooWFarmerNumberOne', error: 'UNREACHABLE', reason: 'Farmer unreachable: dial timed out' }])
    const h = handleError(err)!
    expect(h.message).toMatch(/Not enough farmers accepted/)
    expect(h.detail).toBe('Fragment 5 of segment 0 could not be stored: 1 farmers refused or failed. Tried: umberOne (UNREACHABLE: Farmer unreachable: dial timed out)')
    // Across a worker only name and message arrive; the detail survives.
    expect(handleError({ name: 'SegmentUnavailableError', message: 'Segment 2 cannot be rebuilt: 5 of the 6' })?.detail).toBe('Segment 2 cannot be rebuilt: 5 of the 6')
    // Nothing that would only repeat the sentence, and nothing unbounded.
    expect(handleError(new Error('boom'))?.detail).toBeUndefined()
    expect(handleError(new PlacementError('policy "archive" needs 3 regions, the grid has 2'))?.detail).toBeUndefined()
    expect(handleError({ name: 'SegmentUnavailableError', message: 'x'.repeat(10_000) })?.detail).toHaveLength(2000)
  })
})
