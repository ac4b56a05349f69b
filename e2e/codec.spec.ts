import { test, expect } from '@playwright/test'

test.describe('codec in a real Web Worker (Chromium)', () => {
  for (const variant of ['auto', 'standard'] as const) {
    test(`round-trips a 10+4 segment and matches golden parity (${variant})`, async ({ page }) => {
      await page.goto('/e2e/harness/codec.html')
      await expect(page.locator('#status')).toHaveText('ready')
      const r = await page.evaluate(async (v) => await window.codecHarness.run(v), variant)
      expect(r.variant).toBe(variant === 'auto' ? 'relaxed' : 'standard')
      expect(r.golden).toEqual([true, true, true, true, true, true])
      expect(r.roundTrip).toBe(true)
      expect(r.verified).toBe(true)
      expect(r.notEnough).toBe('NotEnoughShardsError')
      expect(r.inputDetached).toBe(true)
    })
  }
})
