import { test, expect } from '@playwright/test'
import { downloadLink, openApp, randomFile, sha256, shot, startGrid, uploadFile, useRelay, type TestGrid } from './app-fixtures.ts'

let g: TestGrid
// mixed is 6 + 12 on full farmers plus 4 more anywhere: 21 full farmers and page C fill its 22 places,
// the first 16 in one process, so that killing it leaves 5 full farmers and C: exactly k = 6.
test.beforeAll(async () => { g = await startGrid(21, { perProcess: 16 }) })
test.afterAll(async () => { await g.grid.destroy() })

test('a browser offering storage holds fragments and serves them over WebRTC when full farmers are gone', async ({ browser }, info) => {
  // Page C lends storage.
  const c = await browser.newContext()
  await useRelay(c, g.relay.addr)
  const farmPage = await c.newPage()
  await openApp(farmPage, '/#/farm')
  // The offer is bounded by what the browser says it can still store.
  const available = Number(await farmPage.getByTestId('farm-available').getAttribute('data-bytes'))
  expect(available).toBeGreaterThan(0)
  // The quota slider: its top is 90 % of the room left (to the MiB; the rest stays for the app's
  // own downloads and outbox), its bottom 64 MiB, and the keyboard moves it a notch (about a fifth).
  const slider = farmPage.getByRole('slider', { name: 'Storage to offer' })
  const quota = farmPage.getByTestId('farm-quota')
  await slider.focus()
  await farmPage.keyboard.press('End')
  expect(Number(await quota.getAttribute('data-bytes'))).toBe(Math.floor(Math.floor(available * 0.9) / 2 ** 20) * 2 ** 20)
  await farmPage.keyboard.press('Home')
  await expect(quota).toHaveAttribute('data-bytes', String(64 * 2 ** 20))
  for (let i = 0; i < 4; i++) await farmPage.keyboard.press('ArrowRight')
  await expect(quota).toHaveAttribute('data-bytes', String(128 * 2 ** 20))
  await expect(slider).toHaveAttribute('aria-valuetext', '128 MiB')
  await farmPage.getByTestId('farm-toggle').click()
  // The farm runs with the chosen quota, and the slider is locked while it does.
  await expect(farmPage.getByText(/of 128 MiB used/)).toBeVisible({ timeout: 60_000 })
  await expect(slider).toBeDisabled()
  await expect(farmPage.getByTestId('farm-listed')).toHaveAttribute('data-listed', 'true', { timeout: 60_000 })
  // The browser's answer to the persistent-storage request is shown, whichever it is.
  await expect(farmPage.getByTestId('farm-persisted')).toHaveAttribute('data-persisted', /^(true|false)$/)

  // Page A sees it in the directory, and uploads with the mixed policy (6 + 12 + 4: 21 full farmers and C).
  const a = await browser.newContext()
  await useRelay(a, g.relay.addr)
  const pageA = await a.newPage()
  await openApp(pageA, '/#/network')
  await expect(pageA.locator('[data-testid=farmer-row][data-kind=light]')).toHaveCount(1, { timeout: 30_000 })
  await shot(pageA, info, 'network-with-light-farmer')
  await pageA.goto('/#/upload')
  const file = randomFile('shared-with-browsers.bin', 2 * 1024 * 1024)
  const link = await uploadFile(pageA, file, 'mixed')
  await expect.poll(async () => Number(await farmPage.getByTestId('farm-count').textContent()), { timeout: 20_000 }).toBeGreaterThan(0)
  await shot(farmPage, info, 'farm')

  expect(Number(await farmPage.getByTestId('farm-served').textContent())).toBe(0)
  // Sixteen full farmers (one process) go away for good.
  process.kill(g.farmers[0]!.pid, 'SIGKILL')

  const b = await browser.newContext()
  await useRelay(b, g.relay.addr)
  const pageB = await b.newPage()
  const bytes = await downloadLink(pageB, link)
  expect(sha256(bytes)).toBe(sha256(file.buffer))
  // Only six fragments of the segment are left (k), one of them in C, so C must have served B. A
  // browser cannot listen on WebSockets: the only way from B to C is the WebRTC connection that
  // the relay signalled.
  await expect.poll(async () => Number(await farmPage.getByTestId('farm-served').textContent()), { timeout: 10_000 }).toBeGreaterThan(0)
  await expect.poll(async () => Number(await farmPage.getByTestId('farm-readers').textContent()), { timeout: 10_000 }).toBeGreaterThanOrEqual(1)
  await shot(farmPage, info, 'farm-after-serving')
  await a.close(); await b.close(); await c.close()
})
