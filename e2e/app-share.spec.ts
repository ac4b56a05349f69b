import { test, expect, type Page } from '@playwright/test'
import { randomBytes } from 'node:crypto'
import { readFile, rm, writeFile } from 'node:fs/promises'
import { readQr } from '../test/support/read-qr.ts'
import { downloadLink, openApp, pngFile, randomFile, sha256, shot, startGrid, uploadFile, useRelay, wavFile, type TestGrid } from './app-fixtures.ts'

let g: TestGrid
test.beforeAll(async () => { g = await startGrid(18, { perProcess: 9 }) }) // live (6 + 12) needs 18
test.afterAll(async () => { await g.grid.destroy() })

test('a 20 MiB upload in page A downloads byte-identical from its share link in page B', async ({ browser }, info) => {
  const a = await browser.newContext()
  await useRelay(a, g.relay.addr)
  const pageA = await a.newPage()
  await openApp(pageA)
  await shot(pageA, info, 'upload-empty')
  const file = randomFile('twenty.bin', 20 * 1024 * 1024)
  const link = await uploadFile(pageA, file)
  expect(link).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/#shardfarm:r2:/)
  // Where the fragments went: every one of the 4 segments × (6 + 12) fragments, over the grid's three regions.
  const rows = pageA.getByTestId('placement').locator('li')
  await expect(rows).toHaveCount(3)
  const counts = (await rows.allInnerTexts()).map(t => Number(/(\d+) fragments on/.exec(t)?.[1]))
  expect(counts.reduce((a, b) => a + b, 0)).toBe(4 * (6 + 12))
  await shot(pageA, info, 'upload-done')
  // Beside the share link, the verify link: the same file and manifest, a key that reads neither.
  const uploaded = pageA.getByTestId('upload').filter({ hasText: 'twenty.bin' })
  await uploaded.getByText('Verify link: let someone keep this file healthy without reading it').click()
  const verify = await uploaded.getByTestId('verify-link').inputValue()
  expect(verify).toMatch(/^shardfarm:v2:/)
  const [readBody, verifyBody] = [link.split(':')[4]!, verify.split(':')[2]!]
  expect(verifyBody.slice(0, 64)).toBe(readBody.slice(0, 64)) // file id and manifest id
  expect(verifyBody.slice(64)).not.toBe(readBody.slice(64))
  await shot(pageA, info, 'upload-verify-link')
  await pageA.goto('/#/files')
  await expect(pageA.getByTestId('my-file')).toHaveCount(1)
  // A page that opens renews the leases on its files: every fragment and manifest copy of this one.
  await pageA.reload()
  const renewal = pageA.getByTestId('renewal')
  await expect(renewal).toBeVisible({ timeout: 30_000 })
  expect(Number(await renewal.getAttribute('data-renewed'))).toBeGreaterThanOrEqual(4 * (6 + 12))
  await shot(pageA, info, 'files')
  await pageA.goto('/#/network')
  await expect(pageA.getByTestId('farmer-row')).toHaveCount(18, { timeout: 15_000 })
  await shot(pageA, info, 'network')

  const b = await browser.newContext() // a different person: nothing shared but the link
  await useRelay(b, g.relay.addr)
  const pageB = await b.newPage()
  const bytes = await downloadLink(pageB, link)
  await shot(pageB, info, 'download-done')
  expect(bytes.length).toBe(file.buffer.length)
  expect(sha256(bytes)).toBe(sha256(file.buffer))

  // The owner checks the file's health (every fragment of its 4 segments answers), then deletes it.
  await pageA.goto('/#/files')
  await pageA.getByRole('button', { name: 'Check health' }).click()
  const health = pageA.getByTestId('health')
  await expect(health).toHaveAttribute('data-status', 'healthy', { timeout: 30_000 })
  await expect(health.locator('.dot.on')).toHaveCount(4 * (6 + 12))
  await shot(pageA, info, 'files-health')
  await pageA.getByRole('button', { name: 'Delete twenty.bin from the grid' }).click()
  await pageA.getByRole('button', { name: 'Really delete twenty.bin from the grid' }).click()
  await expect(pageA.getByTestId('my-file')).toHaveCount(0, { timeout: 60_000 })
  // Every copy of the manifest is gone: the link no longer opens, for anyone.
  const pageB2 = await b.newPage()
  await pageB2.goto(link)
  await expect(pageB2.getByTestId('download-error')).toHaveAttribute('data-code', 'FILE_NOT_FOUND', { timeout: 60_000 })
  await expect(pageB2.getByTestId('download-error')).toContainText('no longer on the grid')
  await shot(pageB2, info, 'deleted-link')
  await a.close(); await b.close()
})

test('a tampered share link gives the authentication sentence, not a broken file', async ({ browser }, info) => {
  const ctx = await browser.newContext()
  await useRelay(ctx, g.relay.addr)
  const page = await ctx.newPage()
  await openApp(page)
  const link = await uploadFile(page, randomFile('secret.txt', 1000))
  // Flip one character of the key part (the third field of shardfarm:r2:<body>:<holders>).
  const [head, body, holders] = [link.slice(0, link.indexOf(':r2:') + 4), link.split(':')[4]!, link.split(':').slice(5).join(':')]
  const i = body.length - 5
  const tampered = `${head}${body.slice(0, i)}${body[i] === 'A' ? 'B' : 'A'}${body.slice(i + 1)}:${holders}`
  await page.goto(tampered)
  const err = page.getByTestId('download-error')
  await expect(err).toBeVisible({ timeout: 30_000 })
  await expect(err).toHaveAttribute('data-code', 'AUTHENTICATION_FAILED')
  await expect(err).toContainText('This link does not open this file')
  await expect(page.getByTestId('download')).toHaveCount(0)
  await shot(page, info, 'tampered-link')
  await ctx.close()
})

test('an upload can be cancelled while it runs, and then is not listed as stored', async ({ browser }, info) => {
  const ctx = await browser.newContext()
  await useRelay(ctx, g.relay.addr)
  const page = await ctx.newPage()
  await openApp(page)
  // From disk, so it can be larger than the 50 MB Playwright passes as a buffer: 160 MiB (480 MiB of
  // fragments under live) still runs when the rate shows, even on a machine too busy to look often.
  const big = info.outputPath('big.bin')
  await writeFile(big, randomBytes(160 * 1024 * 1024))
  await page.getByTestId('file-input').setInputFiles(big)
  const item = page.getByTestId('upload').filter({ hasText: 'big.bin' })
  await expect(item.getByTestId('rate')).toBeVisible({ timeout: 30_000 }) // speed and time left while it runs
  await shot(page, info, 'upload-running')
  await item.getByRole('button', { name: 'Cancel big.bin' }).click()
  await expect(item).toHaveAttribute('data-status', 'cancelled', { timeout: 30_000 })
  await page.goto('/#/files')
  await expect(page.getByText('Files you upload from this browser appear here')).toBeVisible()
  await ctx.close()
  await rm(big)
})

test('a shared picture and sound play in the page, any other type only downloads, and the QR code reads back as the link', async ({ browser }, info) => {
  const a = await browser.newContext()
  await useRelay(a, g.relay.addr)
  const pageA = await a.newPage()
  await openApp(pageA)
  const png = pngFile('gradient.png', 300, 200)
  const pngLink = await uploadFile(pageA, png)
  const wavLink = await uploadFile(pageA, wavFile('tone.wav', 2))
  const htmlLink = await uploadFile(pageA, { name: 'page.html', mimeType: 'text/html', buffer: Buffer.from('<script>document.title = "ran"</script>') })

  // The QR code of a link, drawn as a picture and read by a QR decoder, is that link.
  await pageA.getByRole('button', { name: 'Show the QR code of the link to gradient.png' }).click()
  const qr = pageA.getByTestId('qr')
  await expect(qr).toBeVisible()
  await shot(pageA, info, 'upload-qr')
  const side = 480
  const pixels = await qr.evaluate(async (svg, size) => {
    const img = new Image()
    img.src = 'data:image/svg+xml;charset=utf-8,' + encodeURIComponent(new XMLSerializer().serializeToString(svg))
    await img.decode()
    const canvas = document.createElement('canvas')
    canvas.width = canvas.height = size
    const ctx = canvas.getContext('2d')!
    ctx.drawImage(img, 0, 0, size, size)
    return Array.from(ctx.getImageData(0, 0, size, size).data)
  }, side)
  expect(readQr(Uint8ClampedArray.from(pixels), side, side)?.data).toBe(pngLink)

  // Someone else opens the picture's link: it is fetched at once and shown at its own size.
  const b = await browser.newContext()
  await useRelay(b, g.relay.addr)
  const pageB = await b.newPage()
  await pageB.goto(pngLink)
  const img = pageB.getByTestId('preview-image')
  await expect(img).toBeVisible({ timeout: 60_000 })
  await expect.poll(async () => await img.evaluate(i => [(i as HTMLImageElement).naturalWidth, (i as HTMLImageElement).naturalHeight])).toEqual([300, 200])
  await shot(pageB, info, 'preview-image')
  const [dl] = await Promise.all([pageB.waitForEvent('download'), pageB.getByTestId('save').click()])
  expect(sha256(await readFile((await dl.path())!))).toBe(sha256(png.buffer))

  // The sound: the audio element reads its two seconds from the rebuilt file.
  await pageB.goto(wavLink)
  const audio = pageB.getByTestId('preview-audio')
  await expect(audio).toBeVisible({ timeout: 60_000 })
  await expect.poll(async () => await audio.evaluate(el => (el as HTMLAudioElement).duration), { timeout: 10_000 }).toBeCloseTo(2, 2)
  await shot(pageB, info, 'preview-audio')

  // An HTML file is not shown, and its blob is a plain download, never a page of the app's origin.
  await pageB.goto(htmlLink)
  await pageB.getByTestId('download').click({ timeout: 60_000 })
  const save = pageB.getByTestId('save')
  await expect(save).toBeVisible({ timeout: 60_000 })
  await expect(pageB.locator('figure')).toHaveCount(0)
  const type = await save.evaluate(async el => (await (await fetch((el as HTMLAnchorElement).href)).blob()).type)
  expect(type).toBe('application/octet-stream')

  // Downloads land in the site's private file system, not in memory, and do not pile up there: each
  // new link removes the last one's file (the sound's), except one the person clicked Save on (the
  // picture's), which stays a while so that the browser can finish copying it; a page opened later
  // removes what closed pages left.
  const left = await opfsDownloads(pageB)
  expect(left.map(n => n.replace(/^\d+-\w+-/, '')).sort()).toEqual(['gradient.png', 'page.html'])
  await pageB.close()
  const pageB3 = await b.newPage()
  await pageB3.goto(pngLink)
  await expect(pageB3.getByTestId('preview-image')).toBeVisible({ timeout: 60_000 })
  await expect.poll(async () => await opfsDownloads(pageB3)).toHaveLength(1)
  for (const name of left) expect(await opfsDownloads(pageB3)).not.toContain(name)
  await a.close(); await b.close()
})

/** The files in the app's OPFS `downloads/` directory, as the page sees them. */
async function opfsDownloads (page: Page): Promise<string[]> {
  return await page.evaluate(async () => {
    const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle('downloads', { create: true })
    const names: string[] = []
    for await (const n of (dir as FileSystemDirectoryHandle & { keys: () => AsyncIterable<string> }).keys()) names.push(n)
    return names
  })
}
