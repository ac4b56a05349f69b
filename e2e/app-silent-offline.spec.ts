// A lost network is silent: no close, no answer. The relay is paused (SIGSTOP: a child this test
// started), so the page's connection to it stays open and says nothing; the page must notice within
// seconds, and an upload started then must go to the outbox at once and say so.
import { test, expect } from '@playwright/test'
import { openApp, randomFile, sha256, shots, startGrid, useRelay, type TestGrid } from './app-fixtures.ts'

let g: TestGrid
let paused = false
test.beforeAll(async () => { g = await startGrid(18, { perProcess: 9 }) }) // live (6 + 12) needs 18
test.afterAll(async () => {
  if (paused) process.kill(g.relay.pid, 'SIGCONT')
  await g.grid.destroy()
})

test('a silent relay is noticed in seconds, and an upload started then is queued at once and sent when it answers again', async ({ browser }, info) => {
  const ctx = await browser.newContext()
  await useRelay(ctx, g.relay.addr)
  const page = await ctx.newPage()
  await openApp(page)
  const status = page.getByRole('status').filter({ hasText: /grid|Offline/ }).first()
  await expect(status).toHaveText('Connected to the grid')

  process.kill(g.relay.pid, 'SIGSTOP')
  paused = true
  const silentAt = Date.now()
  // Liveness ping every 2 s with a 3 s deadline: the header says so within 5 s (6 s of slack for a busy machine).
  await expect(status).toHaveText('Offline: uploads wait in the outbox', { timeout: 11_000 })
  const noticedMs = Date.now() - silentAt
  info.annotations.push({ type: 'noticed offline after', description: `${noticedMs} ms` })
  await expect(page.getByTestId('offline-note')).toBeVisible()

  const file = randomFile('silent.bin', 1024 * 1024 + 7)
  const picked = Date.now()
  await page.getByTestId('file-input').setInputFiles(file)
  const item = page.getByTestId('upload').filter({ hasText: 'silent.bin' })
  await expect(item).toHaveAttribute('data-status', 'queued', { timeout: 5000 })
  await expect(item).toContainText('Queued')
  info.annotations.push({ type: 'queued after', description: `${Date.now() - picked} ms` })
  await expect(item.getByRole('button', { name: 'Cancel silent.bin' })).toHaveCount(0)
  await shots(page, info, 'silent-offline-queued')

  process.kill(g.relay.pid, 'SIGCONT')
  paused = false
  await expect(status).toHaveText('Connected to the grid', { timeout: 15_000 })
  await expect(item).toHaveAttribute('data-status', 'done', { timeout: 60_000 })
  const link = await item.getByTestId('share-link').inputValue()
  expect(link).toContain('#shardfarm:r2:')

  // The queued file is the one stored: another person reads it back whole.
  const other = await browser.newContext()
  await useRelay(other, g.relay.addr)
  const reader = await other.newPage()
  await reader.goto(link)
  await reader.getByTestId('download').click({ timeout: 60_000 })
  const [dl] = await Promise.all([reader.waitForEvent('download'), reader.getByTestId('save').click({ timeout: 60_000 })])
  const { readFile } = await import('node:fs/promises')
  expect(sha256(await readFile((await dl.path())!))).toBe(sha256(file.buffer))
  await ctx.close(); await other.close()
})
