// The policy choice says what each policy means and whether this grid can keep it, before a file
// is dropped; a failed upload offers Retry (with another policy) and Remove; and the grid that
// `npm start` runs (START_FARMERS farmers, START_PER_PROCESS to a process) keeps every policy offered.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test, expect, type Page } from '@playwright/test'
import { spawnShardfarm, stopChild, type ShardfarmChild } from '../src/cli/spawn.ts'
import { START_FARMERS, START_PER_PROCESS } from '../src/cli/start.ts'
import { choosePolicy, openApp, randomFile, shots, startGrid, uploadFile, useRelay } from './app-fixtures.ts'

const radio = (page: Page, title: string): ReturnType<Page['getByRole']> => page.getByRole('radio', { name: new RegExp(`^${title}\\b`) })

test('on eighteen farmers: each policy in plain words, archive and mixed marked impossible with why, and a failed upload retried with live', async ({ browser }, info) => {
  const g = await startGrid(18) // live (6 + 12) fits, archive (64) and mixed (22) do not
  try {
    const ctx = await browser.newContext()
    await useRelay(ctx, g.relay.addr)
    const page = await ctx.newPage()
    await openApp(page)
    const group = page.getByRole('group', { name: 'Storage policy' })
    await expect(group).toBeVisible()
    // What each means, read from the radios' own descriptions.
    await expect(radio(page, 'Live')).toHaveAccessibleDescription(/Survives any 12 of 18 farmers failing/)
    await expect(radio(page, 'Archive')).toHaveAccessibleDescription(/Survives any 32 of 64 farmers failing; spread over 3 regions/)
    await expect(radio(page, 'Mixed')).toHaveAccessibleDescription(/Survives any 12 of 18 full farmers failing; browsers lending storage may hold 4 more fragments/)
    // Which this grid can keep now, and why not, before any file is dropped.
    await expect(radio(page, 'Live')).toHaveAccessibleDescription(/This grid can keep it now/, { timeout: 15_000 })
    await expect(radio(page, 'Archive')).toHaveAccessibleDescription(/Not on this grid now: needs 64 farmers, this grid has 18 that fit/)
    await expect(radio(page, 'Mixed')).toHaveAccessibleDescription(/Not on this grid now: needs 22 farmers, this grid has 18 that fit/)
    await shots(page, info, 'policies-eighteen-farmers')

    // Dropped anyway with archive: it fails, and the row offers Retry with another policy, and Remove.
    await choosePolicy(page, 'archive')
    await page.getByTestId('file-input').setInputFiles(randomFile('too-wide.bin', 300_000))
    const row = page.getByTestId('upload').filter({ hasText: 'too-wide.bin' })
    await expect(row).toHaveAttribute('data-status', 'failed', { timeout: 30_000 })
    await expect(row.getByRole('alert')).toContainText('too few suitable farmers')
    await shots(page, info, 'upload-failed-retry')
    // Retry offers a policy this grid can keep first.
    await expect(row.getByRole('combobox', { name: 'Policy to retry too-wide.bin with' })).toHaveValue('live')
    await row.getByRole('button', { name: 'Retry too-wide.bin' }).click()
    await expect(row).toHaveAttribute('data-status', 'done', { timeout: 60_000 })
    await expect(row).toContainText('live')
    await expect(row.getByRole('alert')).toHaveCount(0)

    // Remove takes a failed row away.
    await page.getByTestId('file-input').setInputFiles(randomFile('also-wide.bin', 1000))
    const second = page.getByTestId('upload').filter({ hasText: 'also-wide.bin' })
    await expect(second).toHaveAttribute('data-status', 'failed', { timeout: 30_000 })
    await second.getByRole('button', { name: 'Remove also-wide.bin from the list' }).click()
    await expect(second).toHaveCount(0)
    await ctx.close()
  } finally {
    await g.grid.destroy()
  }
})

test("npm start's grid keeps every policy the app offers: archive and mixed uploads are stored", async ({ browser }, info) => {
  const root = await mkdtemp(join(tmpdir(), 'shardfarm-start-grid-'))
  let grid: ShardfarmChild | undefined
  try {
    // What `shardfarm start` runs, with the config folder kept out of the person's own.
    const t0 = Date.now()
    grid = await spawnShardfarm(['grid', '--farmers', String(START_FARMERS), '--per-process', String(START_PER_PROCESS), '--data', join(root, 'grid')],
      { name: 'grid', stderr: 'ignore', env: { SHARDFARM_CONFIG: join(root, 'config') }, readyTimeoutMs: 60_000 })
    info.annotations.push({ type: 'grid up after', description: `${Date.now() - t0} ms` })
    const ctx = await browser.newContext()
    await useRelay(ctx, grid.addr)
    const page = await ctx.newPage()
    await openApp(page)
    for (const title of ['Live', 'Archive', 'Mixed']) {
      await expect(radio(page, title)).toHaveAccessibleDescription(/This grid can keep it now/, { timeout: 30_000 })
    }
    await expect(page.getByTestId('policy-impossible')).toHaveCount(0)
    await shots(page, info, 'policies-start-grid')
    for (const policy of ['archive', 'mixed']) {
      const link = await uploadFile(page, randomFile(`${policy}.bin`, 2 * 1024 * 1024), policy)
      expect(link).toContain('#shardfarm:r2:')
    }
    await ctx.close()
  } finally {
    if (grid !== undefined) await stopChild(grid)
    await rm(root, { recursive: true, force: true })
  }
})
