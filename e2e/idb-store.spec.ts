import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { test, expect } from '@playwright/test'
import type { Page } from '@playwright/test'
import { createServer } from 'vite'
import type { ViteDevServer } from 'vite'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const KiB = 1024

// The shared conformance suite imports 'vitest', which cannot run in a page. This spec's own Vite
// server aliases exactly that specifier to a small browser runner, leaving the shared dev server
// (and every other harness) untouched.
let server: ViteDevServer
let harness: string

test.beforeAll(async () => {
  server = await createServer({
    root: ROOT,
    logLevel: 'warn',
    cacheDir: 'node_modules/.vite-e2e-idb',
    resolve: { alias: [{ find: /^vitest$/, replacement: `${ROOT}e2e/harness/mini-vitest.ts` }] },
    optimizeDeps: { entries: ['e2e/harness/idb-store.html'] },
    server: { host: '127.0.0.1', port: 0, strictPort: false, hmr: false, watch: null }
  })
  await server.listen()
  const address = server.httpServer?.address()
  if (address === null || address === undefined || typeof address === 'string') throw new Error('no address')
  harness = `http://127.0.0.1:${address.port}/e2e/harness/idb-store.html`
})

test.afterAll(async () => { await server?.close() })

async function ready (page: Page): Promise<void> {
  await page.goto(harness)
  await expect(page.locator('#status')).toHaveText('ready')
}

test.describe('IdbFragmentStore in Chromium', () => {
  test('passes the shared FragmentStore conformance suite, every case', async ({ page }) => {
    test.setTimeout(120_000)
    // Count the cases in the suite's source, so a run that registers nothing cannot pass.
    const source = await readFile(`${ROOT}src/stores/conformance.ts`, 'utf8')
    const cases = source.match(/^\s+it\(/gm)?.length ?? 0
    expect(cases).toBeGreaterThan(10)
    await ready(page)
    const r = await page.evaluate(async () => await window.runIdbConformance())
    expect(r.failures).toEqual([])
    expect(r).toMatchObject({ registered: cases, passed: cases, failed: 0, skipped: 0 })
  })

  test('keeps fragments and totals across a page reload', async ({ page }) => {
    await ready(page)
    await page.evaluate(async () => await window.idbHarness.open('reload', 1024 * 1024))
    const put = []
    for (const size of [1, 4 * KiB, 60 * KiB]) {
      put.push(await page.evaluate(async n => await window.idbHarness.putRandom('reload', n), size) as { id: string, hex: string })
    }
    const before = await page.evaluate(async () => await window.idbHarness.stat('reload'))
    expect(before).toEqual({ capacity: 1024 * 1024, used: 1 + 64 * KiB, free: 1024 * 1024 - 1 - 64 * KiB, count: 3 })

    await page.reload()
    await expect(page.locator('#status')).toHaveText('ready')
    expect(await page.evaluate(async () => await window.idbHarness.open('reload', 1024 * 1024))).toEqual(before)
    for (const { id, hex } of put) {
      expect(await page.evaluate(async i => await window.idbHarness.get('reload', i), id)).toBe(hex)
    }
  })

  test('refuses the put that would exceed the offered quota, before and after a reload', async ({ page }) => {
    await ready(page)
    await page.evaluate(async () => await window.idbHarness.open('quota', 10 * 1024))
    expect(await page.evaluate(async () => await window.idbHarness.putRandom('quota', 6 * 1024))).toHaveProperty('id')
    expect(await page.evaluate(async () => await window.idbHarness.putRandom('quota', 5 * 1024))).toEqual({
      name: 'QuotaExceededError', code: 'QUOTA_EXCEEDED', details: { quota: 10 * KiB, used: 6 * KiB, needed: 5 * KiB }
    })
    expect(await page.evaluate(async () => await window.idbHarness.putRandom('quota', 4 * 1024))).toHaveProperty('id')

    // The totals are rebuilt from the database, so a reopened store is just as full.
    await page.reload()
    await expect(page.locator('#status')).toHaveText('ready')
    expect(await page.evaluate(async () => await window.idbHarness.open('quota', 10 * 1024))).toEqual(
      { capacity: 10 * KiB, used: 10 * KiB, free: 0, count: 2 })
    expect(await page.evaluate(async () => await window.idbHarness.putRandom('quota', 1))).toMatchObject(
      { name: 'QuotaExceededError', code: 'QUOTA_EXCEEDED' })
  })

  test('reports eviction when another page deletes the database', async ({ page, context }) => {
    await ready(page)
    await page.evaluate(async () => await window.idbHarness.open('evict', 1024 * 1024))
    expect(await page.evaluate(async () => await window.idbHarness.putRandom('evict', 1024))).toHaveProperty('id')
    expect(await page.evaluate(async () => await window.idbHarness.evicted('evict'))).toEqual({ evicted: false, calls: 0 })

    const other = await context.newPage()
    await ready(other)
    // Resolves only once the deletion went through: an open store that kept its connection would
    // leave it blocked.
    const outcome = await other.evaluate(async () => await new Promise<string>(resolve => {
      const req = indexedDB.deleteDatabase('evict')
      req.onsuccess = () => { resolve('deleted') }
      req.onerror = () => { resolve(`error ${String(req.error)}`) }
      req.onblocked = () => { resolve('blocked') }
    }))
    expect(outcome).toBe('deleted')

    expect(await page.evaluate(async () => await window.idbHarness.evicted('evict'))).toEqual({ evicted: true, calls: 1 })
    expect(await page.evaluate(async () => await window.idbHarness.refusalAfterEviction('evict'))).toEqual(
      { name: 'StoreEvictedError', code: 'STORE_EVICTED' })
  })

  test('maps the browser\'s own storage limit to DISK_FULL, with nothing half-written', async ({ page }) => {
    await ready(page)
    // Chromium's own quota for the origin, shrunk through DevTools to 256 KiB, far below the
    // farmer's offer of 64 MiB. (navigator.storage.estimate() does not show the override; writes obey it.)
    const cdp = await page.context().newCDPSession(page)
    const origin = new URL(harness).origin
    await cdp.send('Storage.overrideQuotaForOrigin', { origin, quotaSize: 256 * 1024 })
    try {
      await page.evaluate(async () => await window.idbHarness.open('full', 64 * 1024 * 1024))
      const held = await page.evaluate(async () => await window.idbHarness.putRandom('full', 1024)) as { id: string }
      const before = await page.evaluate(async () => await window.idbHarness.stat('full'))
      expect(await page.evaluate(async () => await window.idbHarness.putRandom('full', 4 * 1024 * 1024))).toMatchObject(
        { name: 'DiskFullError', code: 'DISK_FULL' })
      expect(await page.evaluate(async () => await window.idbHarness.stat('full'))).toEqual(before)
      // Totals rebuilt from the database agree: the aborted transaction left no record behind.
      await page.reload()
      await expect(page.locator('#status')).toHaveText('ready')
      expect(await page.evaluate(async () => await window.idbHarness.open('full', 64 * 1024 * 1024))).toEqual(before)
      expect(await page.evaluate(async i => await window.idbHarness.has('full', [i]), held.id)).toEqual([true])
    } finally {
      await cdp.send('Storage.overrideQuotaForOrigin', { origin })
    }
    // With the browser's room back, the same size fits: the refusal was the browser's, not ours.
    expect(await page.evaluate(async () => await window.idbHarness.putRandom('full', 4 * 1024 * 1024))).toHaveProperty('id')
  })
})
