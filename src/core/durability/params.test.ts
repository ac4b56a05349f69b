import { describe, expect, it } from 'vitest'
import { DEFAULT_PARAMS, modelOf, normalizeParams, parseModelPolicy, PRESET_MODELS } from './params.ts'
import { policyFigures } from './figures.ts'

const nameOf = (f: () => unknown): string | undefined => { try { f() } catch (err) { return (err as Error).name } return undefined }

describe('durability model input', () => {
  it('reads presets, k+m, k+m+l and @threshold', () => {
    expect(parseModelPolicy('archive')).toEqual(PRESET_MODELS.archive)
    expect(parseModelPolicy('40+40@67')).toMatchObject({ k: 40, m: 40, light: 0, threshold: 67 })
    expect(parseModelPolicy('6+12+4')).toMatchObject({ k: 6, m: 12, light: 4, threshold: 12 })
    expect(parseModelPolicy('16+8', 3)).toMatchObject({ threshold: 19 })
  })

  it('follows the presets: their fragments on full and on light farmers, and their repairAt', () => {
    expect(PRESET_MODELS.live).toMatchObject({ k: 6, m: 12, light: 0, threshold: 16 })
    expect(PRESET_MODELS.archive).toMatchObject({ k: 32, m: 32, light: 0, threshold: 56 })
    expect(PRESET_MODELS.mixed).toMatchObject({ k: 6, m: 12, light: 4, threshold: 16 })
    // A mixed policy of an old manifest: exactly k on full farmers, the parity on light ones.
    expect(modelOf({ name: 'mixed', k: 4, m: 3, kinds: 'mixed' })).toMatchObject({ k: 4, m: 0, light: 3, threshold: 4 })
  })

  it('the presets meet what they promise at full-farmer MTTF 12 months (issue #16)', () => {
    const f = (name: keyof typeof PRESET_MODELS) => policyFigures(PRESET_MODELS[name], { ...DEFAULT_PARAMS })
    expect(DEFAULT_PARAMS.mttfMonths).toBe(12)
    // archive: ≥ 11 nines per GiB-year at ≤ 2× on full farmers.
    expect(f('archive').analytic.ninesPerGiBYear).toBeGreaterThanOrEqual(11)
    expect(f('archive').expansionFull).toBeLessThanOrEqual(2)
    // live: ≥ 8 nines; mixed: as many from its full farmers alone, light copies only beyond them.
    expect(f('live').analytic.ninesPerGiBYear).toBeGreaterThanOrEqual(8)
    expect(f('mixed').analytic.ninesPerGiBYear).toBeGreaterThanOrEqual(8)
    expect(f('mixed').expansion).toBeGreaterThan(f('mixed').expansionFull)
  })

  it('refuses what it cannot model with a DurabilityModelError', () => {
    for (const spec of ['3+x', '4+2@3', '4+2@6', '200+100', '4+0', 'x'.repeat(500)]) {
      expect(nameOf(() => parseModelPolicy(spec))).toBe('DurabilityModelError')
    }
    expect(nameOf(() => normalizeParams({ mttfMonths: -1 }))).toBe('DurabilityModelError')
    expect(nameOf(() => normalizeParams({ lightOnlineFraction: 0 }))).toBe('DurabilityModelError')
    expect(nameOf(() => normalizeParams({ correlatedShare: 1 }))).toBe('DurabilityModelError')
  })
})
