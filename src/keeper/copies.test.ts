// The keeper's pure rules: which copies count (grace, failed audits, copies that come back), which
// to audit within a budget, and when a file is repaired.
import { describe, expect, it } from 'vitest'
import { counts, sample, tally, type FarmerView, type KnownCopy } from './copies.ts'
import type { VerifyManifest } from '../core/manifest.ts'
import { POLICIES } from '../core/policy.ts'
import { repairOrder, repairThreshold, type FileVerdict } from './policy.ts'
import type { FileRecord } from './state.ts'

const copy = (id: string, peer: string, manifestId = 'f'): KnownCopy => ({ manifestId, segment: 0, index: 0, id, peer, size: 1 })
const view = (silent: Record<string, number>, now = 10_000, graceMs = 5_000): FarmerView => ({ silent: new Map(Object.entries(silent)), now, graceMs })

describe('keeper copies', () => {
  it('counts a silent farmer\'s copy through the grace period, not after, and again once it is proven', () => {
    const c = copy('a', 'p')
    expect(counts(view({ p: 6_000 }), c, { at: 9_000, verdict: 'unreachable' })).toBe(true)
    expect(counts(view({ p: 5_000 }), c, { at: 9_000, verdict: 'unreachable' })).toBe(false)
    expect(counts(view({}), c, { at: 9_500, verdict: 'proven' })).toBe(true)
  })

  it('stops counting a copy at once when its audit fails', () => {
    expect(counts(view({}), copy('a', 'p'), { at: 9_000, verdict: 'failed' })).toBe(false)
    expect(counts(view({}), copy('a', 'p'), { at: 9_000, verdict: 'missing' })).toBe(false)
  })

  it('audits one copy per silent farmer first, then the least recently audited, within the budget', () => {
    const copies = [copy('a', 'p'), copy('b', 'q'), copy('c', 'q'), copy('d', 's'), copy('e', 's')]
    const records = new Map<string, FileRecord>([['f', { copies: [], audits: { 'a p': { at: 300, verdict: 'proven' }, 'b q': { at: 100, verdict: 'proven' }, 'd s': { at: 50, verdict: 'unreachable' } } }]])
    const picked = sample(copies, records, view({ s: 9_000 }), 3).map(c => c.id)
    expect(picked).toEqual(['e', 'c', 'b']) // s's probe (never audited first), then q's never-audited c, then b
    expect(sample(copies, records, view({}), 0)).toEqual([])
  })
})

describe('keeper policy', () => {
  it('repairs at the durability model\'s threshold: never on the first loss when m ≥ 3', () => {
    expect(repairThreshold(4, 2)).toBe(5)
    expect(repairThreshold(10, 4)).toBe(12)
    expect(repairThreshold(4, 3)).toBe(5)
    const v = (id: string, segments: number[], manifestCopies = 5): FileVerdict => ({ manifestId: id, k: 10, m: 4, segments, manifestCopies, manifestWant: 5 })
    expect(repairOrder([v('one-loss', [13, 14])])).toEqual([])
    // Manifests at risk first, then the segment closest to loss; a lost segment alone is not repairable.
    expect(repairOrder([v('b', [12]), v('a', [11]), v('m', [14], 3), v('lost', [9])]).map(x => x.manifestId)).toEqual(['m', 'a', 'b'])
  })

  it('measures a mixed file\'s threshold on its full farmers\' positions: light copies add, never put a repair off', () => {
    const { k, m, onFull, repairAt } = POLICIES.mixed // 6 + 16, 18 on full farmers, repair at 16
    // One segment of 22 fragments, each on its own farmer; the first three full farmers failed their audits.
    const fragments = Array.from({ length: k + m }, (_, i) => `f${i}`)
    const manifest = { segments: [{ fragments, holders: fragments.map(id => [`p-${id}`]), shardLength: 1 }] } as unknown as VerifyManifest
    const copies = fragments.map((id, i): KnownCopy => ({ manifestId: 'f', segment: 0, index: i, id, peer: `p-${id}`, size: 1 }))
    const audits = Object.fromEntries(['f0', 'f1', 'f2'].map(id => [`${id} p-${id}`, { at: 9_000, verdict: 'failed' as const }]))
    const t = tally(manifest, copies, { copies: [], audits }, view({}), onFull)
    expect(t.segments).toEqual([19]) // 15 full + 4 light: readable, and above 16 counted all together
    expect(t.onFull).toEqual([15])
    const verdict: FileVerdict = { manifestId: 'f', k, m, repairAt, segments: t.segments, onFull: t.onFull, manifestCopies: 5, manifestWant: 5 }
    expect(repairOrder([verdict]).map(v => v.manifestId)).toEqual(['f'])
    // Counted with the light copies it would wait for three more full farmers to go.
    expect(repairOrder([{ ...verdict, onFull: undefined }])).toEqual([])
  })
})
