// "Keep safe" in My files, against a real grid and a real keeper process: the page fetches the
// keeper's key, signs a delegation with the file's owner key, hands over the verify link, and the
// row then shows the keeper's last audit of that file.
import { execFile } from 'node:child_process'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { test, expect } from '@playwright/test'
import { spawnShardfarm } from '../src/cli/spawn.ts'
import { OwnerIndex } from '../src/client/owner-index.ts'
import { nodeKeyValueStore } from '../src/client/session.node.ts'
import { TEST_POLICY_FILE } from '../test/support/test-policy.ts'
import { openApp, randomFile, shot, startGrid, useRelay, type TestGrid } from './app-fixtures.ts'

const BIN = fileURLToPath(new URL('../bin/shardfarm.js', import.meta.url))
let g: TestGrid
test.beforeAll(async () => { g = await startGrid(7) })
test.afterAll(async () => { await g.grid.destroy() })

test('Keep safe hands a file to a keeper, and the row shows it kept with a last audit', async ({ browser }, info) => {
  // The file is put from a shell with an explicit 4 + 2 policy; the page takes it over as its own
  // (the app imports the list an earlier version kept in IndexedDB), owner key included.
  const home = join(g.grid.root, 'owner')
  await mkdir(home, { recursive: true })
  const file = randomFile('kept.bin', 150_000)
  const path = join(g.grid.root, file.name)
  await writeFile(path, file.buffer)
  const env = { ...process.env, SHARDFARM_HOME: home, SHARDFARM_FROM_SOURCE: '1' }
  await promisify(execFile)(process.execPath, [BIN, 'put', path, '--policy', TEST_POLICY_FILE, '--relay', g.relay.addr], { env, timeout: 120_000 })
  const [entry] = await new OwnerIndex(nodeKeyValueStore(home)).list()
  expect(entry).toBeDefined()

  const keeperHome = join(g.grid.root, 'keeper-home')
  await mkdir(keeperHome, { recursive: true })
  const keeper = await spawnShardfarm(['keeper', '--relay', g.relay.addr, '--http', '127.0.0.1:0', '--interval', '1', '--data', join(keeperHome, 'keeper')], {
    name: 'keeper', stderr: 'ignore', env: { SHARDFARM_HOME: keeperHome }
  })
  g.grid.children.push(Object.assign(keeper, { logs: [], name: 'keeper' })) // stopped by PID in destroy()

  const context = await browser.newContext()
  await useRelay(context, g.relay.addr)
  const page = await context.newPage()
  await openApp(page)
  await page.evaluate(async (f) => {
    await new Promise<void>((resolve, reject) => {
      const open = indexedDB.open('shardfarm-files', 1)
      open.onupgradeneeded = () => { open.result.createObjectStore('files', { keyPath: 'manifestId' }) }
      open.onerror = () => { reject(open.error) }
      open.onsuccess = () => {
        const tx = open.result.transaction('files', 'readwrite')
        tx.objectStore('files').put(f)
        tx.oncomplete = () => { open.result.close(); resolve() }
        tx.onerror = () => { reject(tx.error) }
      }
    })
  }, entry!)
  await page.goto('/#/files')
  await page.reload()
  const row = page.getByTestId('my-file').filter({ hasText: file.name })
  await expect(row).toBeVisible({ timeout: 30_000 })

  await row.getByRole('button', { name: `Keep ${file.name} safe` }).click()
  await row.getByTestId('keeper-address').fill(keeper.addr)
  await row.getByRole('button', { name: 'Hand over' }).click()
  const kept = row.getByTestId('kept')
  await expect(kept).toBeVisible({ timeout: 30_000 })
  await expect(kept).toContainText('Kept')
  await expect(kept).toContainText('for you') // kept under the owner's delegation
  await expect(kept).toHaveAttribute('data-last-audit', /^\d+$/, { timeout: 60_000 })
  await expect(kept).toContainText('last audit')
  await expect(kept).toHaveAttribute('data-health', 'healthy')
  await shot(page, info, 'files-kept')

  // The keeper's own view agrees: this file, under the owner's delegation, audited.
  const { files } = await (await fetch(`${keeper.addr}/files`)).json() as { files: Array<{ manifestId: string, key: string, lastAuditAt?: number }> }
  expect(files.find(f => f.manifestId === entry!.manifestId)).toMatchObject({ key: 'delegated', lastAuditAt: expect.any(Number) })
  await context.close()
})
