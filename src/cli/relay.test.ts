import { describe, expect, it } from 'vitest'
import { parseDuration } from './relay.ts'

describe('shardfarm relay --vetting-period', () => {
  it('takes a number with a unit, or 0; anything else is a usage error naming the flag', () => {
    expect(parseDuration('vetting-period', '24h')).toBe(86_400_000)
    expect(parseDuration('vetting-period', '90s')).toBe(90_000)
    expect(parseDuration('vetting-period', '15m')).toBe(900_000)
    expect(parseDuration('vetting-period', '2d')).toBe(172_800_000)
    expect(parseDuration('vetting-period', '0')).toBe(0)
    for (const bad of ['', '5', '-1h', '1.5h', '24 hours', '400d', 'h']) {
      expect(() => parseDuration('vetting-period', bad)).toThrow(expect.objectContaining({ name: 'UsageError', message: expect.stringContaining('--vetting-period') }))
    }
  })
})
