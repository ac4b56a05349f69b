import { describe, it, expect } from 'vitest'
import { handleError } from './handle-error.ts'
import { AuthenticationError } from '../../core/envelope.ts'
import { PlacementError } from '../../core/placement.ts'

describe('handleError', () => {
  it('ignores aborts and speaks human for typed errors, even as plain objects from a worker', () => {
    expect(handleError(new DOMException('x', 'AbortError'))).toBeUndefined()
    expect(handleError(new AuthenticationError('manifest'))?.message).toMatch(/link does not open this file/)
    expect(handleError({ name: 'WorkerCrashedError', message: 'x' })?.code).toBe('WorkerCrashedError')
    expect(handleError(new PlacementError('policy "archive" needs 3 regions, the grid has 2'))?.message).toMatch(/needs 3 regions, the grid has 2/)
    expect(handleError({ name: 'FarmerError', code: 'QUOTA_EXCEEDED' })?.message).toMatch(/offer is full/)
    expect(handleError(new Error('boom'))?.message).toBe('Something went wrong: boom')
  })
})
