import { describe, expect, it } from 'vitest'
import type { FarmerInfo } from '../../core/placement.ts'
import { meaningOf, policyChoices } from './policy-choice.ts'

const REGIONS = ['eu-west', 'eu-central', 'us-east']
const grid = (n: number, extra: Partial<FarmerInfo> = {}): FarmerInfo[] => Array.from({ length: n }, (_, i) => ({
  peerId: `peer-${i}`, region: REGIONS[i % 3]!, tier: 'live', kind: 'full', free: 2 ** 30, vettedAt: 0, sharedSubnets: true, subnet: '127.0.0.0/24', ...extra
}))

describe('policyChoices', () => {
  it('says what each policy means, from its numbers', () => {
    expect(meaningOf('live')).toBe('Survives any 2 of 6 farmers failing; fast to read back')
    expect(meaningOf('archive')).toBe('Survives any 4 of 14 farmers failing; spread over 3 regions')
    expect(meaningOf('mixed')).toMatch(/^Survives any 3 of 7 farmers failing; browsers lending storage may hold/)
  })

  it('on six full farmers, only live is possible, and the others say why', () => {
    const c = policyChoices(grid(6))
    expect(c.map(x => [x.name, x.possible])).toEqual([['live', true], ['archive', false], ['mixed', false]])
    expect(c[1]!.reason).toBe('needs 14 farmers, this grid has 6 that fit')
    expect(c[2]!.reason).toBe('needs 7 farmers, this grid has 6 that fit')
  })

  it('on fourteen farmers over three regions, every offered policy is possible', () => {
    expect(policyChoices(grid(14)).every(x => x.possible)).toBe(true)
  })

  it('names a missing region', () => {
    const c = policyChoices(grid(14).map(f => ({ ...f, region: f.region === 'us-east' ? 'eu-west' : f.region })))
    expect(c[1]).toMatchObject({ possible: false, reason: 'needs farmers in 3 regions, this grid has 2' })
  })

  it('with no farmers yet, says so rather than guessing', () => {
    expect(policyChoices([]).map(x => x.reason)).toEqual(['no farmers in reach yet', 'no farmers in reach yet', 'no farmers in reach yet'])
  })
})
