import { describe, expect, it } from 'vitest'
import type { FarmerInfo } from '../../core/placement.ts'
import { meaningOf, policyChoices } from './policy-choice.ts'

const REGIONS = ['eu-west', 'eu-central', 'us-east']
const grid = (n: number, extra: Partial<FarmerInfo> = {}): FarmerInfo[] => Array.from({ length: n }, (_, i) => ({
  peerId: `peer-${i}`, region: REGIONS[i % 3]!, tier: 'live', kind: 'full', free: 2 ** 30, vettedAt: 0, sharedSubnets: true, subnet: '127.0.0.0/24', ...extra
}))

describe('policyChoices', () => {
  it('says what each policy means, from its numbers', () => {
    expect(meaningOf('live')).toBe('Survives any 12 of 18 farmers failing; fast to read back')
    expect(meaningOf('archive')).toBe('Survives any 32 of 64 farmers failing; spread over 3 regions')
    // Light copies only add: what it survives is what its full farmers survive on their own.
    expect(meaningOf('mixed')).toBe('Survives any 12 of 18 full farmers failing; browsers lending storage may hold 4 more fragments')
    expect(policyChoices(grid(1)).map(x => x.shape)).toEqual(['6 + 12', '32 + 32', '6 + 12 + 4'])
  })

  it('on eighteen full farmers, only live is possible, and the others say why', () => {
    const c = policyChoices(grid(18))
    expect(c.map(x => [x.name, x.possible])).toEqual([['live', true], ['archive', false], ['mixed', false]])
    expect(c[1]!.reason).toBe('needs 64 farmers, this grid has 18 that fit')
    expect(c[2]!.reason).toBe('needs 22 farmers, this grid has 18 that fit')
  })

  it('on sixty-four farmers over three regions, every offered policy is possible', () => {
    expect(policyChoices(grid(64)).every(x => x.possible)).toBe(true)
  })

  it('mixed says when the full farmers it keeps its copies on are missing, whatever the browsers', () => {
    const c = policyChoices([...grid(17), ...grid(10, { kind: 'light' }).map((f, i) => ({ ...f, peerId: `light-${i}` }))])
    expect(c[2]).toMatchObject({ possible: false, reason: 'needs 18 full farmers, this grid has 17' })
  })

  it('names a missing region', () => {
    const c = policyChoices(grid(64).map(f => ({ ...f, region: f.region === 'us-east' ? 'eu-west' : f.region })))
    expect(c[1]).toMatchObject({ possible: false, reason: 'needs farmers in 3 regions, this grid has 2' })
  })

  it('with no farmers yet, says so rather than guessing', () => {
    expect(policyChoices([]).map(x => x.reason)).toEqual(['no farmers in reach yet', 'no farmers in reach yet', 'no farmers in reach yet'])
  })
})
