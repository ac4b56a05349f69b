import { test, expect } from '@playwright/test'
import { downloadLink, openApp, randomFile, sha256, shot, startGrid, useRelay, type TestGrid } from './app-fixtures.ts'

let g: TestGrid
test.beforeAll(async () => { g = await startGrid(18, { perProcess: 9 }) }) // live (6 + 12) needs 18
test.afterAll(async () => { await g.grid.destroy() })

test('offline: an upload is sealed into the outbox, survives a reload, and drains when the grid is back', async ({ browser }, info) => {
  const a = await browser.newContext()
  await useRelay(a, g.relay.addr)
  const first = await a.newPage()
  await openApp(first)
  // The service worker installs and pre-caches the whole app (codec worker and wasm included).
  await first.evaluate(async () => { await navigator.serviceWorker.ready })
  await first.close()

  await a.setOffline(true)
  const page = await a.newPage()
  await page.goto('/') // served by the service worker
  await expect(page.locator('[role=status]')).toHaveAttribute('data-status', 'offline', { timeout: 30_000 })
  const file = randomFile('offline.bin', 3 * 1024 * 1024 + 123)
  await page.getByTestId('file-input').setInputFiles(file)
  const item = page.getByTestId('upload').filter({ hasText: 'offline.bin' })
  await expect(item).toHaveAttribute('data-status', 'queued', { timeout: 60_000 })
  await expect(item).toContainText('Queued, offline')
  await shot(page, info, 'offline-queued')

  await page.reload() // still offline: the shell comes from the cache, the job from IndexedDB
  await expect(item).toHaveAttribute('data-status', 'queued', { timeout: 30_000 })

  await a.setOffline(false)
  await expect(item).toHaveAttribute('data-status', 'done', { timeout: 120_000 })
  const link = await item.getByTestId('share-link').inputValue()
  await shot(page, info, 'offline-drained')

  const b = await browser.newContext()
  await useRelay(b, g.relay.addr)
  const bytes = await downloadLink(await b.newPage(), link)
  expect(sha256(bytes)).toBe(sha256(file.buffer))
  await a.close(); await b.close()
})
