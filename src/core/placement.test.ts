import { describe, it, expect } from 'vitest'
import { place, type FarmerInfo } from './placement.ts'
import { normalizePolicy } from './policy.ts'

const farmer = (i: number, region: string, extra: Partial<FarmerInfo> = {}): FarmerInfo =>
  ({ peerId: `peer-${String(i).padStart(2, '0')}`, region, tier: 'live', kind: 'full', free: 1e9, ...extra })
const grid = (n: number, regions: string[]): FarmerInfo[] => Array.from({ length: n }, (_, i) => farmer(i, regions[i % regions.length]!))
const regionOf = (fs: FarmerInfo[]) => (id: string) => fs.find(f => f.peerId === id)!.region

describe('policies', () => {
  it('presets and custom policies normalise, bad ones say what is wrong', () => {
    expect(normalizePolicy('live')).toMatchObject({ k: 4, m: 2, kinds: 'full' })
    expect(normalizePolicy('archive')).toMatchObject({ k: 10, m: 4, minRegions: 3 })
    expect(normalizePolicy({ k: 3, m: 1 })).toMatchObject({ name: 'custom', minRegions: 1, tiers: ['live', 'archive'] })
    expect(() => normalizePolicy('gold')).toThrow(/unknown preset "gold"/)
    expect(() => normalizePolicy({ k: 0, m: 1 })).toThrow(expect.objectContaining({ name: 'InvalidPolicyError' }))
    expect(() => normalizePolicy({ k: 200, m: 57 })).toThrow(/at most 256/)
    expect(() => normalizePolicy({ k: 2, m: 1, minRegions: 3, regions: ['a', 'b'] })).toThrow(/needs 3 regions but allows only 2/)
    expect(() => normalizePolicy({ k: 2, m: 1, tiers: ['hot'] })).toThrow(/unknown tier "hot"/)
  })
})

describe('placement', () => {
  it('uses k + m distinct farmers per segment and spreads segments over the grid', () => {
    const fs = grid(12, ['eu', 'us', 'ap'])
    const p = place(normalizePolicy('live'), fs, { fragmentSize: 1000, segments: 6 })
    for (const seg of p.segments) expect(new Set(seg).size).toBe(6)
    const load = new Map<string, number>()
    for (const seg of p.segments) for (const id of seg) load.set(id, (load.get(id) ?? 0) + 1)
    expect(load.size).toBe(12) // every farmer used
    expect(Math.max(...load.values()) - Math.min(...load.values())).toBeLessThanOrEqual(1)
    expect(p.spares[0]!.length).toBe(6)
    expect(p.spares[0]!.some(id => p.segments[0]!.includes(id))).toBe(false)
  })

  it('respects region spread, allowed regions and tiers', () => {
    const fs = [...grid(10, ['eu']), farmer(20, 'us'), farmer(21, 'ap'), farmer(22, 'ap'), farmer(23, 'us')]
    const p = place(normalizePolicy('archive'), fs, { fragmentSize: 10, segments: 5 })
    for (const seg of p.segments) expect(new Set(seg.map(regionOf(fs))).size).toBeGreaterThanOrEqual(3)
    const euOnly = place(normalizePolicy({ k: 4, m: 2, regions: ['eu'] }), fs, { fragmentSize: 10, segments: 3 })
    for (const seg of euOnly.segments) expect(seg.every(id => regionOf(fs)(id) === 'eu')).toBe(true)
    const archiveTier = fs.map((f, i) => ({ ...f, tier: i < 3 ? 'archive' as const : 'live' as const }))
    expect(() => place(normalizePolicy({ k: 2, m: 2, tiers: ['archive'] }), archiveTier, { fragmentSize: 1, segments: 1 }))
      .toThrow(/needs 4 farmers \(2 \+ 2\), the grid has 3 eligible \(archive tier/)
  })

  it('refuses impossible policies with a reason a person can act on', () => {
    expect(() => place(normalizePolicy('archive'), grid(6, ['eu', 'us']), { fragmentSize: 1, segments: 1 }))
      .toThrow(/policy "archive" needs 14 farmers \(10 \+ 4\), the grid has 6 eligible/)
    expect(() => place(normalizePolicy('archive'), grid(14, ['eu', 'us']), { fragmentSize: 1, segments: 1 }))
      .toThrow(/policy "archive" needs 3 regions, the grid has 2 \(eu, us\)/)
    const full = grid(6, ['eu'])
    full[0]!.free = 10
    expect(() => place(normalizePolicy('live'), full, { fragmentSize: 100, segments: 1 }))
      .toThrow(expect.objectContaining({ name: 'PlacementError', code: 'POLICY_UNSATISFIABLE', details: expect.objectContaining({ eligible: 5 }) }))
  })

  it('mixed policies keep k fragments of every segment on full farmers; light ones hold parity only', () => {
    const fs = [...grid(4, ['eu']), ...Array.from({ length: 6 }, (_, i) => farmer(30 + i, 'eu', { kind: 'light', free: 1e12 }))]
    const policy = normalizePolicy({ k: 4, m: 3, kinds: 'mixed' })
    const p = place(policy, fs, { fragmentSize: 1, segments: 4 })
    for (const seg of p.segments) {
      const kinds = seg.map(id => fs.find(f => f.peerId === id)!.kind)
      expect(kinds.slice(0, 4)).toEqual(['full', 'full', 'full', 'full'])
      expect(kinds.slice(4).every(k => k === 'light')).toBe(true)
    }
    expect(() => place(normalizePolicy({ k: 5, m: 1, kinds: 'mixed' }), fs, { fragmentSize: 1, segments: 1 }))
      .toThrow(/keeps 5 fragments of every segment on full farmers, the grid has 4/)
    expect(() => place(normalizePolicy({ k: 2, m: 1 }), fs.filter(f => f.kind === 'light'), { fragmentSize: 1, segments: 1 }))
      .toThrow(/the grid has 0 eligible/)
  })

  it('excludes failed farmers and is deterministic', () => {
    const fs = grid(8, ['eu', 'us'])
    const a = place(normalizePolicy('live'), fs, { fragmentSize: 1, segments: 3, exclude: ['peer-00', 'peer-01'] })
    expect(a.segments.flat()).not.toContain('peer-00')
    expect(a.segments.flat()).not.toContain('peer-01')
    expect(place(normalizePolicy('live'), [...fs].reverse(), { fragmentSize: 1, segments: 3, exclude: ['peer-00', 'peer-01'] })).toEqual(a)
  })
})
