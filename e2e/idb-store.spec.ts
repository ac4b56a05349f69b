import { test, expect } from '@playwright/test'
import type { Page } from '@playwright/test'

// Only what needs a page reload is here. The shared conformance suite and the other browser-only
// cases run in the page itself: src/stores/idb.browser.test.ts (`npm run test:browser`).
const KiB = 1024

async function ready (page: Page): Promise<void> {
  await page.goto('/e2e/harness/idb-store.html')
  await expect(page.locator('#status')).toHaveText('ready')
}

test.describe('IdbFragmentStore in Chromium', () => {
  test('keeps fragments and totals across a page reload', async ({ page }) => {
    await ready(page)
    await page.evaluate(async () => await window.idbHarness.open('reload', 1024 * 1024))
    const put = []
    for (const size of [1, 4 * KiB, 60 * KiB]) {
      put.push(await page.evaluate(async n => await window.idbHarness.putRandom('reload', n), size))
    }
    const before = await page.evaluate(async () => await window.idbHarness.stat('reload'))
    expect(before).toEqual({ capacity: 1024 * 1024, used: 1 + 64 * KiB, free: 1024 * 1024 - 1 - 64 * KiB, count: 3 })

    // The page goes away without closing the store: what it wrote must still be there.
    await page.reload()
    await expect(page.locator('#status')).toHaveText('ready')
    expect(await page.evaluate(async () => await window.idbHarness.open('reload', 1024 * 1024))).toEqual(before)
    for (const { id, hex } of put) {
      expect(await page.evaluate(async i => await window.idbHarness.get('reload', i), id)).toBe(hex)
    }
  })
})
