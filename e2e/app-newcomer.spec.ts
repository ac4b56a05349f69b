// The app as a newcomer meets it: links that cannot open say what is likely and offer only what
// can help; a deletion shows everywhere at once and is confirmed; a download says how far, how
// fast and how long, and saves in one click where the browser has a save dialog; the keyboard and a
// phone's width work in every view; the Farm and Network views say what their numbers mean.
import { randomBytes } from 'node:crypto'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { test, expect, type Page } from '@playwright/test'
import { formatCapability } from '../src/core/capability.ts'
import { openApp, PHONE, randomFile, readPicked, sha256, shots, sideScroll, startGrid, uploadFile, useRelay, type TestGrid } from './app-fixtures.ts'

let g: TestGrid
test.beforeAll(async () => { g = await startGrid(18, { perProcess: 9 }) }) // live (6 + 12) needs 18
test.afterAll(async () => { await g.grid.destroy() })

const shareUrl = (page: Page, link: string): string => `${new URL(page.url()).origin}/#${link}`

test('links that cannot open: another grid says how to reach it; tampered and invalid links offer no "Try again"', async ({ browser }, info) => {
  const ctx = await browser.newContext()
  await useRelay(ctx, g.relay.addr)
  const page = await ctx.newPage()
  await openApp(page)
  await expect.poll(async () => await page.evaluate(() => document.querySelectorAll('[data-testid=policy-possible]').length), { timeout: 15_000 }).toBeGreaterThan(0)

  // A well-formed link whose manifest holders are farmers this grid has never listed.
  const holders = await Promise.all([0, 1, 2].map(async () => peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()))
  const foreign = formatCapability({ kind: 'read', version: 2, fileId: randomBytes(16), manifestId: randomBytes(32).toString('hex'), key: randomBytes(32), holders })
  await page.goto(shareUrl(page, foreign))
  const err = page.getByTestId('download-error')
  await expect(err).toContainText('the link most likely comes from another grid', { timeout: 60_000 })
  await expect(page.getByTestId('download-hint')).toContainText('Use another relay')
  await expect(page.getByRole('button', { name: 'Try again' })).toHaveCount(0)
  await shots(page, info, 'link-other-grid')
  await page.getByRole('link', { name: 'Set the relay in Network' }).click()
  await expect(page.getByLabel('Use another relay')).toBeVisible()

  // Tampered (one character of the key changed) and invalid (not a link at all).
  const link = await (async () => { await page.goto('/#/upload'); return await uploadFile(page, randomFile('real.bin', 5000)) })()
  const body = link.split(':')[4]!
  const i = body.length - 5
  const tampered = link.replace(body, `${body.slice(0, i)}${body[i] === 'A' ? 'B' : 'A'}${body.slice(i + 1)}`)
  await page.goto(tampered)
  await expect(err).toHaveAttribute('data-code', 'AUTHENTICATION_FAILED', { timeout: 60_000 })
  await expect(page.getByRole('button', { name: 'Try again' })).toHaveCount(0)
  await page.goto('/#shardfarm:r2:not-a-link:at-all')
  await expect(err).toHaveAttribute('data-code', 'BAD_CAPABILITY', { timeout: 30_000 })
  await expect(page.getByRole('button', { name: 'Try again' })).toHaveCount(0)
  await shots(page, info, 'link-invalid')
  await ctx.close()
})

test('a deletion is confirmed and shows in the Upload view at once: no Stored row with a dead link', async ({ browser }, info) => {
  const ctx = await browser.newContext()
  await useRelay(ctx, g.relay.addr)
  const page = await ctx.newPage()
  await openApp(page)
  await uploadFile(page, randomFile('short-lived.bin', 200_000))
  const row = page.getByTestId('upload').filter({ hasText: 'short-lived.bin' })
  await expect(row).toContainText('Stored')
  await page.getByRole('link', { name: 'My files' }).click()
  await page.getByRole('button', { name: 'Delete short-lived.bin from the grid' }).click()
  await page.getByRole('button', { name: 'Really delete short-lived.bin from the grid' }).click()
  await expect(page.getByRole('status').filter({ hasText: 'Deleted short-lived.bin from the grid' })).toBeVisible({ timeout: 60_000 })
  await shots(page, info, 'files-deleted')
  await page.getByRole('link', { name: 'Upload' }).click()
  await expect(row).toContainText('Deleted from the grid')
  await expect(row).not.toContainText('Stored')
  await expect(row.getByTestId('share-link')).toHaveCount(0)
  await expect(row.getByRole('button', { name: 'Copy' })).toHaveCount(0)
  await shots(page, info, 'upload-after-delete')
  await ctx.close()
})

test('a download shows percent, speed and time left, and one click saves it where the save dialog says', async ({ browser }, info) => {
  const a = await browser.newContext()
  await useRelay(a, g.relay.addr)
  const pageA = await a.newPage()
  await openApp(pageA)
  const file = randomFile('forty.bin', 40 * 1024 * 1024)
  const link = await uploadFile(pageA, file)

  // Headless Chromium's save dialog rejects at once and Playwright cannot drive one: stubbed (see useRelay).
  const b = await browser.newContext()
  await useRelay(b, g.relay.addr, { savePicker: 'stub' })
  const page = await b.newPage()
  await page.goto(link)
  await page.getByRole('button', { name: 'Download' }).click({ timeout: 60_000 })
  await expect(page.getByTestId('download-percent')).toHaveText(/^\d+ %$/)
  await expect(page.getByTestId('download-rate')).toHaveText(/\/s · .+ left$/, { timeout: 30_000 })
  await shots(page, info, 'download-running')
  await expect(page.getByTestId('saved-as')).toHaveText('Rebuilt, verified and saved as picked-forty.bin.', { timeout: 120_000 })
  await expect(page.getByTestId('save')).toHaveCount(0) // no second click
  expect(await readPicked(page, 'forty.bin')).toEqual({ sha256: sha256(file.buffer), size: file.buffer.length })
  await shots(page, info, 'download-saved')
  await a.close(); await b.close()
})

test('keyboard and phone width: Enter opens the file chooser; no view scrolls sideways; the link and peer ids fit', async ({ browser }, info) => {
  const ctx = await browser.newContext()
  await useRelay(ctx, g.relay.addr)
  const page = await ctx.newPage()
  // Playwright starts catching file choosers once a listener exists; one registered early avoids a race with the first.
  page.on('filechooser', () => {})
  await openApp(page)
  // Tab to "Choose files" as a person would (its focus ring shows on the button-like label).
  for (let i = 0; i < 12 && await page.evaluate(() => document.activeElement?.getAttribute('data-testid')) !== 'file-input'; i++) await page.keyboard.press('Tab')
  await expect(page.getByTestId('file-input')).toBeFocused()
  const [chooser] = await Promise.all([page.waitForEvent('filechooser', { timeout: 5000 }), page.keyboard.press('Enter')])
  await chooser.setFiles(randomFile('by-keyboard.bin', 4000))
  const row = page.getByTestId('upload').filter({ hasText: 'by-keyboard.bin' })
  await expect(row).toHaveAttribute('data-status', 'done', { timeout: 60_000 })
  const link = await row.getByTestId('share-link').inputValue()

  await page.setViewportSize(PHONE)
  // The policy choice stays inside its card.
  const card = await page.locator('section.card').first().boundingBox()
  const policy = await page.getByRole('group', { name: 'Storage policy' }).boundingBox()
  expect(policy!.x + policy!.width).toBeLessThanOrEqual(card!.x + card!.width)
  // The whole share link shows (it wraps; nothing hidden to scroll to).
  const field = row.getByTestId('share-link')
  expect(await field.evaluate(el => el.scrollWidth <= el.clientWidth && el.scrollHeight <= el.clientHeight)).toBe(true)
  await expect(field).toHaveValue(link)

  for (const view of ['/#/upload', '/#/files', '/#/farm', '/#/network', `/${new URL(link).hash}`]) {
    await page.goto(view)
    await expect(page.locator('main h1')).toBeVisible()
    if (view === '/#/network') await expect(page.getByTestId('farmer-row')).toHaveCount(18, { timeout: 15_000 })
    expect(await sideScroll(page), `${view} scrolls sideways at phone width`).toBe(0)
  }
  // Peer ids keep to one line in the farmer list.
  await page.goto('/#/network')
  await expect(page.getByTestId('farmer-row')).toHaveCount(18, { timeout: 15_000 })
  for (const id of await page.locator('[data-testid=farmer-row] td:first-child .mono').all()) {
    expect(await id.evaluate(el => el.getClientRects().length)).toBe(1)
  }
  await shot4(page, info)
  await ctx.close()
})

/** Every view at desktop and phone width. */
async function shot4 (page: Page, info: Parameters<typeof shots>[1]): Promise<void> {
  for (const view of ['upload', 'files', 'farm', 'network']) {
    await page.goto(`/#/${view}`)
    await expect(page.locator('main h1')).toBeVisible()
    if (view === 'network') await expect(page.getByTestId('farmer-row')).toHaveCount(18, { timeout: 15_000 })
    await shots(page, info, `view-${view}`)
  }
}

test('Farm and Network say what their numbers mean: the reserved tenth, the range, this browser, the time axis, the relay by name', async ({ browser }, info) => {
  const ctx = await browser.newContext()
  await useRelay(ctx, g.relay.addr)
  const page = await ctx.newPage()
  await openApp(page, '/#/farm')
  await expect(page.getByTestId('farm-available')).toContainText('the last tenth stays free for this app\'s own downloads')
  const range = page.getByTestId('farm-range')
  await expect(range).toContainText('64.0 MiB')
  const top = await page.getByRole('slider', { name: 'Storage to offer' }).evaluate(el => (el as HTMLInputElement).max)
  await page.getByRole('slider', { name: 'Storage to offer' }).focus()
  await page.keyboard.press('End')
  const most = await page.getByTestId('farm-quota').textContent()
  await expect(range).toContainText(most!) // the right end is the slider's top
  expect(Number(top)).toBeGreaterThan(0)
  await page.keyboard.press('Home')
  await page.getByRole('button', { name: 'Offer storage' }).click()
  await expect(page.getByTestId('farm-listed')).toHaveAttribute('data-listed', 'true', { timeout: 60_000 })
  await shots(page, info, 'farm-on')

  await page.getByRole('link', { name: 'Network' }).click()
  const mine = page.getByTestId('farmer-row').filter({ hasText: 'this browser' })
  await expect(mine).toHaveCount(1, { timeout: 30_000 })
  await expect(mine).toHaveAttribute('data-kind', 'light')
  await expect(page.getByTestId('time-axis')).toHaveText(/60 s ago.*now/)
  const [, host, port] = /\/ip4\/([^/]+)\/tcp\/(\d+)/.exec(g.relay.addr)!
  await expect(page.getByTestId('relay')).toHaveText(`${host}:${port} · …${g.relay.addr.slice(-6)}`)
  await expect(page.getByTestId('relay')).toHaveAttribute('title', g.relay.addr)
  await page.getByText('Full relay address').click()
  await expect(page.getByTestId('relay-full')).toHaveText(g.relay.addr)
  await shots(page, info, 'network-this-browser')
  await ctx.close()
})
