import { describe, it, expect } from 'vitest'
import { chooseTargets, manifestCopies, place, type FarmerInfo, type Placement } from './placement.ts'
import { defaultThreshold, normalizePolicy, POLICIES } from './policy.ts'
import { TEST_POLICY } from '../../test/support/test-policy.ts'

/** A vetted farmer on a /24 of its own, unless `extra` says otherwise. */
const farmer = (i: number, region: string, extra: Partial<FarmerInfo> = {}): FarmerInfo =>
  ({ peerId: `peer-${String(i).padStart(2, '0')}`, region, tier: 'live', kind: 'full', free: 1e9, subnet: `10.0.${i}.0/24`, vettedAt: 0, ...extra })
const grid = (n: number, regions: string[]): FarmerInfo[] => Array.from({ length: n }, (_, i) => farmer(i, regions[i % regions.length]!))
const regionOf = (fs: FarmerInfo[]) => (id: string) => fs.find(f => f.peerId === id)!.region
const NOW = 1_000_000
/** 10 + 4 over 3 regions: small enough for these grids, wide enough to need a region spread. */
const SPREAD = { name: 'spread', k: 10, m: 4, minRegions: 3 }

/** A seeded uniform source (mulberry32), so a failing draw can be replayed. */
function seeded (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Fragments per farmer over every segment of `p`. */
function load (p: Placement): Map<string, number> {
  const out = new Map<string, number>()
  for (const seg of p.segments) for (const id of seg) out.set(id, (out.get(id) ?? 0) + 1)
  return out
}


describe('policies', () => {
  it('presets and custom policies normalise, bad ones say what is wrong', () => {
    expect(normalizePolicy('live')).toMatchObject({ k: 6, m: 12, repairAt: 16, onFull: 18, kinds: 'full', tiers: ['live'] })
    expect(normalizePolicy('archive')).toMatchObject({ k: 32, m: 32, repairAt: 56, onFull: 64, minRegions: 3, kinds: 'full' })
    expect(normalizePolicy('mixed')).toMatchObject({ k: 6, m: 16, repairAt: 16, onFull: 18, kinds: 'mixed' })
    expect(normalizePolicy({ k: 3, m: 1 })).toMatchObject({ name: 'custom', minRegions: 1, tiers: ['live', 'archive'] })
    expect(() => normalizePolicy('gold')).toThrow(/unknown preset "gold"/)
    expect(() => normalizePolicy({ k: 0, m: 1 })).toThrow(expect.objectContaining({ name: 'InvalidPolicyError' }))
    expect(() => normalizePolicy({ k: 200, m: 57 })).toThrow(/at most 256/)
    expect(() => normalizePolicy({ k: 2, m: 1, minRegions: 3, regions: ['a', 'b'] })).toThrow(/needs 3 regions but allows only 2/)
    expect(() => normalizePolicy({ k: 2, m: 1, tiers: ['hot'] })).toThrow(/unknown tier "hot"/)
    expect(() => normalizePolicy({ k: 4, m: 2, repairAt: 3 })).toThrow(/repairAt must be an integer ≥ 4/)
    expect(() => normalizePolicy({ k: 4, m: 2, repairAt: 6 })).toThrow(/repairAt \(6\) must be below the 6 fragments/)
    expect(() => normalizePolicy({ k: 4, m: 2, repairAt: 4.5 })).toThrow(expect.objectContaining({ name: 'InvalidPolicyError' }))
    expect(() => normalizePolicy({ k: 4, m: 3, kinds: 'mixed', onFull: 3 })).toThrow(/onFull must be an integer ≥ 4/)
    expect(() => normalizePolicy({ k: 4, m: 3, kinds: 'mixed', onFull: 8 })).toThrow(/onFull \(8\) exceeds the 7 fragments/)
    expect(() => normalizePolicy({ k: 4, m: 3, onFull: 5 })).toThrow(/only a "mixed" policy allows/)
  })

  it('policies of manifests written before repairAt and onFull normalise as they did, with the old defaults', () => {
    // The presets as manifests stored them before the durability model chose new ones.
    const old = {
      live: { name: 'live', k: 4, m: 2, regions: [], minRegions: 1, tiers: ['live'], kinds: 'full' },
      archive: { name: 'archive', k: 10, m: 4, regions: [], minRegions: 3, tiers: ['live', 'archive'], kinds: 'full' },
      mixed: { name: 'mixed', k: 4, m: 3, regions: [], minRegions: 1, tiers: ['live', 'archive'], kinds: 'mixed' }
    }
    expect(normalizePolicy(old.live)).toEqual({ ...old.live, repairAt: 5, onFull: 6 })
    expect(normalizePolicy(old.archive)).toEqual({ ...old.archive, repairAt: 12, onFull: 14 })
    // mixed: exactly k on full farmers, as placement then kept them.
    expect(normalizePolicy(old.mixed)).toEqual({ ...old.mixed, repairAt: 5, onFull: 4 })
    for (const p of Object.values(old)) expect(normalizePolicy(normalizePolicy(p))).toEqual(normalizePolicy(p))
    expect(defaultThreshold(10, 4)).toBe(12)
    // The presets' own figures, restated by normalisation (a normalised policy normalises to itself).
    for (const p of Object.values(POLICIES)) expect(normalizePolicy(normalizePolicy(p))).toEqual(normalizePolicy(p))
  })
})

describe('placement', () => {
  it('uses k + m distinct farmers per segment and spreads segments over the grid', () => {
    const fs = grid(12, ['eu', 'us', 'ap'])
    const p = place(normalizePolicy(TEST_POLICY), fs, { fragmentSize: 1000, segments: 60, random: seeded(1), now: NOW })
    for (const seg of p.segments) expect(new Set(seg).size).toBe(6)
    const l = load(p)
    expect(l.size).toBe(12) // every farmer used
    // 360 fragments over 12 farmers: 30 each on average, none starved or flooded.
    for (const n of l.values()) expect(n).toBeGreaterThan(12)
    for (const n of l.values()) expect(n).toBeLessThan(50)
    expect(p.spares[0]!.some(id => p.segments[0]!.includes(id))).toBe(false)
    expect(p.spares[0]!.length).toBe(6)
    expect(p.eligible).toHaveLength(12)
  })

  it('free space is a filter, never a rank: a farmer claiming a petabyte is chosen no more often', () => {
    const fs = grid(12, ['eu']).map((f, i) => i < 6 ? { ...f, free: 2 ** 50 } : { ...f, free: 1e6 })
    const p = place(normalizePolicy(TEST_POLICY), fs, { fragmentSize: 1000, segments: 2000, random: seeded(2), now: NOW })
    const l = load(p)
    const big = fs.slice(0, 6).reduce((n, f) => n + (l.get(f.peerId) ?? 0), 0)
    // 12 000 fragments; half the farmers: 6000 expected, σ ≈ 55.
    expect(Math.abs(big - 6000)).toBeLessThan(300)
    // Below the fragment size, a farmer is out.
    const tight = place(normalizePolicy(TEST_POLICY), fs.map((f, i) => i === 11 ? { ...f, free: 999 } : f), { fragmentSize: 1000, segments: 50, random: seeded(3), now: NOW })
    expect(tight.segments.flat()).not.toContain('peer-11')
  })

  it('chooses in proportion to weight; a weight of 0 excludes', () => {
    const fs = grid(12, ['eu'])
    const weight = (id: string): number => id === 'peer-00' ? 0 : id === 'peer-01' ? 4 : id === 'peer-02' ? 0.25 : 1
    const p = place(normalizePolicy({ k: 2, m: 1 }), fs, { fragmentSize: 1, segments: 3000, random: seeded(4), now: NOW, weight })
    const l = load(p)
    expect(l.get('peer-00')).toBeUndefined()
    expect(p.spares.flat()).not.toContain('peer-00')
    expect(p.eligible).not.toContain('peer-00')
    expect(l.get('peer-01')!).toBeGreaterThan(2 * l.get('peer-05')!)
    expect(l.get('peer-02')!).toBeLessThan(l.get('peer-05')! / 2)
  })

  it('over many seeds never breaks a per-segment limit: one fragment per farmer, per subnet, and one unvetted fragment in all', () => {
    // 10 vetted farmers on 8 subnets (two pairs share one), 8 new farmers, one of them on a vetted subnet.
    const vetted = grid(10, ['eu', 'us']).map((f, i) => ({ ...f, subnet: `10.0.${Math.min(i, 7)}.0/24` }))
    const fresh = Array.from({ length: 8 }, (_, i) => farmer(40 + i, 'eu', { vettedAt: NOW + 1, free: 2 ** 50, subnet: i === 0 ? '10.0.1.0/24' : `10.9.${i}.0/24` }))
    const fs = [...vetted, ...fresh]
    const byId = new Map(fs.map(f => [f.peerId, f]))
    for (let seed = 0; seed < 300; seed++) {
      const p = place(normalizePolicy({ k: 4, m: 3 }), fs, { fragmentSize: 1, segments: 3, random: seeded(seed), now: NOW })
      for (const [s, seg] of p.segments.entries()) {
        expect(new Set(seg).size).toBe(7)
        const subnets = seg.map(id => byId.get(id)!.subnet)
        expect(new Set(subnets).size).toBe(7)
        expect(seg.filter(id => byId.get(id)!.vettedAt! > NOW).length).toBeLessThanOrEqual(1)
        // Whatever spares a disperser takes in order, the segment keeps its rules.
        const spares = p.spares[s]!
        expect(spares.filter(id => byId.get(id)!.vettedAt! > NOW).length).toBeLessThanOrEqual(seg.some(id => byId.get(id)!.vettedAt! > NOW) ? 0 : 1)
        expect(new Set([...subnets, ...spares.map(id => byId.get(id)!.subnet)]).size).toBe(7 + spares.length)
      }
    }
  })

  it('new farmers, however much they claim, hold one fragment of a segment in all, and no manifest copy', () => {
    const honest = grid(6, ['eu'])
    const sybils = Array.from({ length: 30 }, (_, i) => farmer(50 + i, 'eu', { free: 2 ** 50, vettedAt: NOW + 60_000 }))
    const unknown = Array.from({ length: 10 }, (_, i) => farmer(90 + i, 'eu', { free: 2 ** 50, vettedAt: undefined, subnet: undefined }))
    const fs = [...honest, ...sybils, ...unknown]
    const fresh = new Set([...sybils, ...unknown].map(f => f.peerId))
    const p = place(normalizePolicy(TEST_POLICY), fs, { fragmentSize: 1, segments: 500, random: seeded(5), now: NOW })
    let used = 0
    for (const seg of p.segments) {
      const n = seg.filter(id => fresh.has(id)).length
      expect(n).toBeLessThanOrEqual(1)
      used += n
    }
    expect(used).toBeGreaterThan(0) // they are used, as parity beside five vetted farmers
    for (let seed = 0; seed < 100; seed++) {
      const copies = chooseTargets(fs, { count: manifestCopies(normalizePolicy(TEST_POLICY)), bytes: 1, purpose: 'manifest' }, { random: seeded(seed), now: NOW })
      expect(copies).toHaveLength(5)
      expect(copies.every(f => !fresh.has(f.peerId))).toBe(true)
      expect(new Set(copies.map(f => f.subnet)).size).toBe(5)
    }
    // Once vetted, they count as any other farmer.
    const later = place(normalizePolicy(TEST_POLICY), fs, { fragmentSize: 1, segments: 50, random: seeded(6), now: NOW + 60_000 })
    expect(Math.max(...later.segments.map(seg => seg.filter(id => fresh.has(id)).length))).toBeGreaterThan(1)
    // Too few vetted farmers: the reason says so.
    expect(() => place(normalizePolicy(TEST_POLICY), [...honest.slice(0, 4), ...sybils], { fragmentSize: 1, segments: 1, now: NOW }))
      .toThrow(/needs 6 farmers \(4 \+ 2\), the grid has 34 eligible .*30 of them are new/)
  })

  it('one fragment per subnet; too few subnets is an error naming them, unless the grid shares subnets on purpose', () => {
    const fs = grid(12, ['eu']).map((f, i) => ({ ...f, subnet: `10.0.${i % 3}.0/24` }))
    expect(() => place(normalizePolicy(TEST_POLICY), fs, { fragmentSize: 1, segments: 1, now: NOW }))
      .toThrow(expect.objectContaining({ name: 'PlacementError', message: expect.stringMatching(/6 different subnets .*on 3 \(10\.0\.0\.0\/24, 10\.0\.1\.0\/24, 10\.0\.2\.0\/24\)/) }))
    // Said by the relay (on every listing) or by the caller: spread as evenly as the subnets allow, 2 + 2 + 2.
    for (const p of [
      place(normalizePolicy(TEST_POLICY), fs.map(f => ({ ...f, sharedSubnets: true })), { fragmentSize: 1, segments: 100, random: seeded(7), now: NOW }),
      place(normalizePolicy(TEST_POLICY), fs, { fragmentSize: 1, segments: 100, random: seeded(7), now: NOW, sharedSubnets: true })
    ]) {
      for (const seg of p.segments) {
        const per = new Map<string, number>()
        for (const id of seg) per.set(fs.find(f => f.peerId === id)!.subnet!, (per.get(fs.find(f => f.peerId === id)!.subnet!) ?? 0) + 1)
        expect([...per.values()]).toEqual([2, 2, 2])
      }
    }
    // One listing without the relay's word is not enough to relax the rule.
    expect(() => place(normalizePolicy(TEST_POLICY), fs.map((f, i) => ({ ...f, sharedSubnets: i > 0 })), { fragmentSize: 1, segments: 1, now: NOW }))
      .toThrow(/subnets/)
  })

  it('respects region spread, allowed regions and tiers', () => {
    const fs = [...grid(10, ['eu']), farmer(20, 'us'), farmer(21, 'ap'), farmer(22, 'ap'), farmer(23, 'us')]
    const p = place(normalizePolicy(SPREAD), fs, { fragmentSize: 10, segments: 50, random: seeded(8), now: NOW })
    for (const seg of p.segments) expect(new Set(seg.map(regionOf(fs))).size).toBeGreaterThanOrEqual(3)
    const euOnly = place(normalizePolicy({ k: 4, m: 2, regions: ['eu'] }), fs, { fragmentSize: 10, segments: 3, now: NOW })
    for (const seg of euOnly.segments) expect(seg.every(id => regionOf(fs)(id) === 'eu')).toBe(true)
    const archiveTier = fs.map((f, i) => ({ ...f, tier: i < 3 ? 'archive' as const : 'live' as const }))
    expect(() => place(normalizePolicy({ k: 2, m: 2, tiers: ['archive'] }), archiveTier, { fragmentSize: 1, segments: 1, now: NOW }))
      .toThrow(/needs 4 farmers \(2 \+ 2\), the grid has 3 eligible \(archive tier/)
  })

  it('refuses impossible policies with a reason a person can act on', () => {
    expect(() => place(normalizePolicy(SPREAD), grid(6, ['eu', 'us']), { fragmentSize: 1, segments: 1, now: NOW }))
      .toThrow(/policy "spread" needs 14 farmers \(10 \+ 4\), the grid has 6 eligible/)
    expect(() => place(normalizePolicy(SPREAD), grid(14, ['eu', 'us']), { fragmentSize: 1, segments: 1, now: NOW }))
      .toThrow(/policy "spread" needs 3 regions, the grid has 2 \(eu, us\)/)
    const full = grid(6, ['eu'])
    full[0]!.free = 10
    expect(() => place(normalizePolicy(TEST_POLICY), full, { fragmentSize: 100, segments: 1, now: NOW }))
      .toThrow(expect.objectContaining({ name: 'PlacementError', code: 'POLICY_UNSATISFIABLE', details: expect.objectContaining({ eligible: 5 }) }))
  })

  it('mixed policies without onFull keep k fragments of every segment on full farmers; light ones hold parity only', () => {
    const fs = [...grid(4, ['eu']), ...Array.from({ length: 6 }, (_, i) => farmer(30 + i, 'eu', { kind: 'light', free: 1e12 }))]
    const policy = normalizePolicy({ k: 4, m: 3, kinds: 'mixed' })
    const p = place(policy, fs, { fragmentSize: 1, segments: 40, random: seeded(9), now: NOW })
    for (const seg of p.segments) {
      const kinds = seg.map(id => fs.find(f => f.peerId === id)!.kind)
      expect(kinds.slice(0, 4)).toEqual(['full', 'full', 'full', 'full'])
      expect(kinds.slice(4).every(k => k === 'light')).toBe(true)
    }
    expect(() => place(normalizePolicy({ k: 5, m: 1, kinds: 'mixed' }), fs, { fragmentSize: 1, segments: 1, now: NOW }))
      .toThrow(/keeps 5 fragments of every segment on full farmers, the grid has 4/)
    expect(() => place(normalizePolicy({ k: 2, m: 1 }), fs.filter(f => f.kind === 'light'), { fragmentSize: 1, segments: 1, now: NOW }))
      .toThrow(/the grid has 0 eligible/)
  })

  it('mixed policies with onFull keep that many on full farmers; light farmers only add positions beyond', () => {
    const light = Array.from({ length: 8 }, (_, i) => farmer(40 + i, 'eu', { kind: 'light', free: 1e12 }))
    const fs = [...grid(7, ['eu']), ...light]
    const policy = normalizePolicy({ k: 3, m: 6, onFull: 7, kinds: 'mixed' })
    const p = place(policy, fs, { fragmentSize: 1, segments: 60, random: seeded(11), now: NOW })
    for (const seg of p.segments) {
      const kinds = seg.map(id => fs.find(f => f.peerId === id)!.kind)
      expect(kinds.slice(0, 7).every(k => k === 'full')).toBe(true)
      expect(kinds.slice(7)).toEqual(['light', 'light'])
    }
    // Six full farmers cannot keep 7 positions, however many light ones there are.
    expect(() => place(policy, [...grid(6, ['eu']), ...light], { fragmentSize: 1, segments: 1, now: NOW }))
      .toThrow(expect.objectContaining({ name: 'PlacementError', details: expect.objectContaining({ neededFull: 7, full: 6 }) }))
  })

  it('excludes failed farmers; with one random source, the order of the listing does not matter', () => {
    const fs = grid(8, ['eu', 'us'])
    const a = place(normalizePolicy(TEST_POLICY), fs, { fragmentSize: 1, segments: 3, exclude: ['peer-00', 'peer-01'], random: seeded(10), now: NOW })
    expect(a.segments.flat()).not.toContain('peer-00')
    expect(a.segments.flat()).not.toContain('peer-01')
    expect(place(normalizePolicy(TEST_POLICY), [...fs].reverse(), { fragmentSize: 1, segments: 3, exclude: ['peer-00', 'peer-01'], random: seeded(10), now: NOW })).toEqual(a)
  })
})

describe('choosing targets for repair', () => {
  it('keeps the segment rules against the fragments still held', () => {
    const honest = grid(8, ['eu']).map((f, i) => ({ ...f, subnet: `10.0.${i % 6}.0/24` }))
    const sybils = Array.from({ length: 10 }, (_, i) => farmer(60 + i, 'eu', { free: 2 ** 50, vettedAt: NOW + 1 }))
    const fs = [...honest, ...sybils]
    const held = ['peer-00', 'peer-01', 'peer-02', 'peer-60'] // one new farmer holds a fragment already
    for (let seed = 0; seed < 100; seed++) {
      const got = chooseTargets(fs, { count: 2, bytes: 1, purpose: 'fragment', holders: held }, { random: seeded(seed), now: NOW })
      expect(got).toHaveLength(2)
      expect(got.every(f => f.vettedAt! <= NOW)).toBe(true)
      const subnets = [...held.map(id => fs.find(f => f.peerId === id)!.subnet), ...got.map(f => f.subnet)]
      expect(new Set(subnets).size).toBe(6)
    }
    // Three vetted farmers on subnets the segment does not use are left: asked for four, three come, never a broken rule.
    expect(chooseTargets(fs, { count: 4, bytes: 1, purpose: 'fragment', holders: held }, { now: NOW })).toHaveLength(3)
    // Without a new holder, one new farmer may take a rebuilt fragment.
    const open = chooseTargets(fs, { count: 4, bytes: 1, purpose: 'fragment', holders: ['peer-00'] }, { random: seeded(1), now: NOW })
    expect(open.filter(f => f.vettedAt! > NOW).length).toBeLessThanOrEqual(1)
    expect(manifestCopies({ m: 2 })).toBe(5)
    expect(manifestCopies({ m: 6 })).toBe(7)
  })
})
