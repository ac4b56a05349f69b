// Shared by the app specs: a real local grid (relay + full farmers as child processes, from the
// multi-process test helpers) and pages pointed at it through the app's own relay setting.
import { createHash, randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { crc32, deflateSync } from 'node:zlib'
import type { BrowserContext, Locator, Page, TestInfo } from '@playwright/test'
import { expect } from '@playwright/test'
import { Grid, type TestChild } from '../test/grid/helpers.ts'

export const REGIONS = ['eu-west', 'eu-central', 'us-east']

export interface TestGrid {
  grid: Grid
  relay: TestChild
  /** One entry per farmer; farmers hosted by one process share its `pid` (killing it stops them all). */
  farmers: TestChild[]
}

/**
 * A relay with a short directory TTL, and `n` full farmers spread over three regions. Each farmer
 * is its own process unless `perProcess` is given: then they are hosted that many to a process
 * (`shardfarm farmer --count`), which starts the presets' 18-farmer grids in a few seconds.
 */
export async function startGrid (n: number, options: { perProcess?: number } = {}): Promise<TestGrid> {
  const grid = new Grid()
  await grid.init()
  const relay = await grid.relay(6000)
  const per = options.perProcess ?? 1
  if (per === 1) {
    const farmers = await Promise.all(Array.from({ length: n }, async (_, i) =>
      await grid.farmer(`farmer-${i}`, relay.addr, ['--region', REGIONS[i % REGIONS.length]!])))
    return { grid, relay, farmers }
  }
  const hosts = await Promise.all(Array.from({ length: Math.ceil(n / per) }, async (_, h) =>
    await grid.start(`farmers-${h}`, ['farmer', '--data', grid.root, '--count', String(Math.min(per, n - h * per)), '--first', String(h * per), '--relay', relay.addr])))
  const farmers = hosts.flatMap(host => host.addr.split(' ').map(addr => Object.assign(Object.create(host) as TestChild, { addr })))
  return { grid, relay, farmers }
}

/**
 * Makes every page of `context` use `relay` (the app's "Use another relay" setting).
 *
 * The save dialog (`showSaveFilePicker`): headless Chromium has the function, but it rejects at
 * once with the AbortError a person closing the dialog gives, and Playwright cannot drive a save
 * dialog. So by default the pages go without it (`'none'`), as in browsers that lack it, and a
 * download takes the two-step way (Download, then Save). `'stub'` puts in its place a dialog that
 * "chooses" a file of the suggested name in the origin-private file system (`readPicked` reads it).
 */
export async function useRelay (context: BrowserContext, relay: string, options: { savePicker?: 'none' | 'stub' } = {}): Promise<void> {
  await context.addInitScript((addr) => { localStorage.setItem('shardfarm.relay', addr) }, relay)
  await context.addInitScript((stub) => {
    const picker = stub
      ? async (o?: { suggestedName?: string }): Promise<FileSystemFileHandle> =>
        await (await navigator.storage.getDirectory()).getFileHandle(`picked-${o?.suggestedName ?? 'file'}`, { create: true })
      : undefined
    Object.defineProperty(window, 'showSaveFilePicker', { value: picker, configurable: true, writable: true })
  }, options.savePicker === 'stub')
}

/** SHA-256 (hex) and size of the file the stubbed save dialog handed out for `name`. */
export async function readPicked (page: Page, name: string): Promise<{ sha256: string, size: number }> {
  return await page.evaluate(async (n) => {
    const file = await (await (await navigator.storage.getDirectory()).getFileHandle(`picked-${n}`)).getFile()
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', await file.arrayBuffer()))
    return { sha256: Array.from(digest, b => b.toString(16).padStart(2, '0')).join(''), size: file.size }
  }, name)
}

export async function openApp (page: Page, path = '/'): Promise<void> {
  await page.goto(path)
  await expect(page.locator('[role=status][data-status]')).toHaveAttribute('data-status', 'online', { timeout: 30_000 })
}

export function randomFile (name: string, bytes: number): { name: string, mimeType: string, buffer: Buffer } {
  return { name, mimeType: 'application/octet-stream', buffer: randomBytes(bytes) }
}

export const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

/** Picks a storage policy in the Upload view ("live", "archive" or "mixed"), by its visible label. */
export async function choosePolicy (page: Page, policy: string): Promise<void> {
  await page.getByRole('radio', { name: new RegExp(`^${policy}\\b`, 'i') }).check()
}

/** Uploads through the file input and returns the share link once the upload is stored. */
export async function uploadFile (page: Page, file: { name: string, mimeType: string, buffer: Buffer }, policy = 'live'): Promise<string> {
  await choosePolicy(page, policy)
  await page.getByTestId('file-input').setInputFiles(file)
  const item = page.getByTestId('upload').filter({ hasText: file.name })
  // Settled either way; a failure is reported with the sentence the row shows, so a log names its cause.
  await expect(item).toHaveAttribute('data-status', /^(done|failed)$/, { timeout: 200_000 })
  if (await item.getAttribute('data-status') === 'failed') {
    throw new Error(`The upload of ${file.name} failed: ${await errorText(item)}`)
  }
  return await item.getByTestId('share-link').inputValue()
}

/** The error a view shows, with its folded detail (which farmers failed, and how). */
async function errorText (scope: Locator): Promise<string> {
  const said = (await scope.getByRole('alert').allTextContents()).join(' ')
  const detail = (await scope.getByTestId('error-detail').locator('code').allTextContents()).join(' ')
  return detail === '' ? said : `${said} (${detail})`
}

/** Opens a share link, downloads, and returns the saved bytes; a failed download is reported with its error. */
export async function downloadLink (page: Page, link: string): Promise<Buffer> {
  await page.goto(link)
  await page.getByTestId('download').click({ timeout: 60_000 })
  const save = page.getByTestId('save')
  const failed = page.getByTestId('download-error')
  await expect(save.or(failed)).toBeVisible({ timeout: 200_000 })
  if (await failed.isVisible()) throw new Error(`The download failed: ${await errorText(page.locator('main'))}`)
  const [dl] = await Promise.all([page.waitForEvent('download'), save.click()])
  return await readFile((await dl.path())!)
}

/** Saves a screenshot as a test artifact (look at them: they are the product). */
export async function shot (page: Page, info: TestInfo, name: string): Promise<void> {
  const path = info.outputPath(`${name}.png`)
  await page.screenshot({ path, fullPage: true })
  await info.attach(name, { path, contentType: 'image/png' })
}

/** A real PNG (RGB, no filter): a `width` × `height` gradient, for the image preview. */
export function pngFile (name: string, width: number, height: number): { name: string, mimeType: string, buffer: Buffer } {
  const chunk = (type: string, data: Buffer): Buffer => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data])
    const out = Buffer.alloc(8 + data.length + 4)
    out.writeUInt32BE(data.length, 0)
    body.copy(out, 4)
    out.writeUInt32BE(crc32(body), 8 + data.length)
    return out
  }
  const ihdr = Buffer.alloc(13)
  ihdr.writeUInt32BE(width, 0); ihdr.writeUInt32BE(height, 4)
  ihdr[8] = 8; ihdr[9] = 2 // 8-bit RGB
  const rows = Buffer.alloc(height * (1 + width * 3))
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) rows.set([x % 256, y % 256, 128], y * (1 + width * 3) + 1 + x * 3)
  }
  const buffer = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(rows)), chunk('IEND', Buffer.alloc(0))])
  return { name, mimeType: 'image/png', buffer }
}

/** A real WAV: `seconds` of a 440 Hz tone, 8 kHz mono 16-bit, for the audio preview. */
export function wavFile (name: string, seconds: number): { name: string, mimeType: string, buffer: Buffer } {
  const rate = 8000
  const samples = rate * seconds
  const buffer = Buffer.alloc(44 + samples * 2)
  buffer.write('RIFF', 0, 'latin1'); buffer.writeUInt32LE(36 + samples * 2, 4); buffer.write('WAVEfmt ', 8, 'latin1')
  buffer.writeUInt32LE(16, 16); buffer.writeUInt16LE(1, 20); buffer.writeUInt16LE(1, 22)
  buffer.writeUInt32LE(rate, 24); buffer.writeUInt32LE(rate * 2, 28); buffer.writeUInt16LE(2, 32); buffer.writeUInt16LE(16, 34)
  buffer.write('data', 36, 'latin1'); buffer.writeUInt32LE(samples * 2, 40)
  for (let i = 0; i < samples; i++) buffer.writeInt16LE(Math.round(8000 * Math.sin(2 * Math.PI * 440 * i / rate)), 44 + i * 2)
  return { name, mimeType: 'audio/wav', buffer }
}

/** A phone's viewport (CSS pixels), for the small-screen checks. */
export const PHONE = { width: 390, height: 844 }
const DESKTOP = { width: 1280, height: 720 }

/** Saves `name` at desktop width and `name-phone` at phone width (look at both). */
export async function shots (page: Page, info: TestInfo, name: string): Promise<void> {
  const before = page.viewportSize() ?? DESKTOP
  await page.setViewportSize(DESKTOP)
  await shot(page, info, name)
  await page.setViewportSize(PHONE)
  await shot(page, info, `${name}-phone`)
  await page.setViewportSize(before)
}

/** How many CSS pixels the page scrolls sideways (0 when everything fits the viewport's width). */
export async function sideScroll (page: Page): Promise<number> {
  return await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)
}
