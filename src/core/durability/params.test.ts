import { describe, expect, it } from 'vitest'
import { normalizeParams, parseModelPolicy, PRESET_MODELS } from './params.ts'

const nameOf = (f: () => unknown): string | undefined => { try { f() } catch (err) { return (err as Error).name } return undefined }

describe('durability model input', () => {
  it('reads presets, k+m, k+m+l and @threshold', () => {
    expect(parseModelPolicy('archive')).toEqual(PRESET_MODELS.archive)
    expect(parseModelPolicy('40+40@67')).toMatchObject({ k: 40, m: 40, light: 0, threshold: 67 })
    expect(parseModelPolicy('6+12+4')).toMatchObject({ k: 6, m: 12, light: 4, threshold: 12 })
    expect(parseModelPolicy('16+8', 3)).toMatchObject({ threshold: 19 })
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
