// Shared by the app specs: a real local grid (relay + full farmers as child processes, from the
// multi-process test helpers) and pages pointed at it through the app's own relay setting.
import { createHash, randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import type { BrowserContext, Page, TestInfo } from '@playwright/test'
import { expect } from '@playwright/test'
import { Grid, type TestChild } from '../test/grid/helpers.ts'

export const REGIONS = ['eu-west', 'eu-central', 'us-east']

export interface TestGrid { grid: Grid, relay: TestChild, farmers: TestChild[] }

/** A relay with a short directory TTL, and `n` full farmers spread over three regions. */
export async function startGrid (n: number): Promise<TestGrid> {
  const grid = new Grid()
  await grid.init()
  const relay = await grid.relay(6000)
  const farmers = await Promise.all(Array.from({ length: n }, async (_, i) =>
    await grid.farmer(`farmer-${i}`, relay.addr, ['--region', REGIONS[i % REGIONS.length]!])))
  return { grid, relay, farmers }
}

/** Makes every page of `context` use `relay` (the app's "Use another relay" setting). */
export async function useRelay (context: BrowserContext, relay: string): Promise<void> {
  await context.addInitScript((addr) => { localStorage.setItem('shardfarm.relay', addr) }, relay)
}

export async function openApp (page: Page, path = '/'): Promise<void> {
  await page.goto(path)
  await expect(page.locator('[role=status][data-status]')).toHaveAttribute('data-status', 'online', { timeout: 30_000 })
}

export function randomFile (name: string, bytes: number): { name: string, mimeType: string, buffer: Buffer } {
  return { name, mimeType: 'application/octet-stream', buffer: randomBytes(bytes) }
}

export const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

/** Uploads through the file input and returns the share link once the upload is stored. */
export async function uploadFile (page: Page, file: { name: string, mimeType: string, buffer: Buffer }, policy = 'live'): Promise<string> {
  await page.getByTestId('policy').selectOption(policy)
  await page.getByTestId('file-input').setInputFiles(file)
  const item = page.getByTestId('upload').filter({ hasText: file.name })
  await expect(item).toHaveAttribute('data-status', 'done', { timeout: 200_000 })
  return await item.getByTestId('share-link').inputValue()
}

/** Opens a share link, downloads, and returns the saved bytes. */
export async function downloadLink (page: Page, link: string): Promise<Buffer> {
  await page.goto(link)
  await page.getByTestId('download').click({ timeout: 60_000 })
  const save = page.getByTestId('save')
  await expect(save).toBeVisible({ timeout: 200_000 })
  const [dl] = await Promise.all([page.waitForEvent('download'), save.click()])
  return await readFile((await dl.path())!)
}

/** Saves a screenshot as a test artifact (look at them: they are the product). */
export async function shot (page: Page, info: TestInfo, name: string): Promise<void> {
  const path = info.outputPath(`${name}.png`)
  await page.screenshot({ path, fullPage: true })
  await info.attach(name, { path, contentType: 'image/png' })
}
