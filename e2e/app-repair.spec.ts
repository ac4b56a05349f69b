import { test, expect } from '@playwright/test'
import { downloadLink, openApp, randomFile, sha256, shot, startGrid, uploadFile, useRelay, type TestGrid } from './app-fixtures.ts'

let g: TestGrid
test.beforeAll(async () => { g = await startGrid(20) }) // live (6 + 12) and two farmers to repair onto
test.afterAll(async () => { await g.grid.destroy() })

test('the owner repairs a file after two farmers leave, and its link still opens after two more go', async ({ browser }, info) => {
  const a = await browser.newContext()
  await useRelay(a, g.relay.addr)
  const pageA = await a.newPage()
  await openApp(pageA)
  const file = randomFile('mended.bin', 10 * 1024 * 1024) // 2 segments of live 6 + 12, over 20 farmers
  const link = await uploadFile(pageA, file)
  // The manifest holders a link names come last, comma-separated.
  const holders = link.split(':').at(-1)!.split(',')
  expect(holders).toHaveLength(13) // max(5, m + 1) copies
  const farmerOf = (peer: string) => g.farmers.find(f => f.addr.endsWith(`/p2p/${peer}`))!
  const gone = new Set<number>()
  const leave = (pid: number): void => { process.kill(pid, 'SIGKILL'); gone.add(pid) }

  // Two farmers holding the manifest (and a fragment of most segments) leave for good.
  leave(farmerOf(holders[0]!).pid)
  leave(farmerOf(holders[1]!).pid)
  await pageA.goto('/#/files')
  await pageA.getByRole('button', { name: 'Check health' }).click()
  const health = pageA.getByTestId('health')
  await expect(health).toHaveAttribute('data-status', 'degraded', { timeout: 60_000 })
  await shot(pageA, info, 'files-degraded')
  await pageA.getByRole('button', { name: 'Repair mended.bin' }).click()
  const repaired = pageA.getByTestId('repaired')
  await expect(repaired).toBeVisible({ timeout: 120_000 })
  expect(Number(await repaired.getAttribute('data-fragments'))).toBeGreaterThan(0)
  await expect(repaired).toContainText('2 copies of its manifest')
  await expect(health).toHaveAttribute('data-status', 'healthy')
  await expect(pageA.getByRole('button', { name: 'Repair mended.bin' })).toHaveCount(0)
  await shot(pageA, info, 'files-repaired')

  // Two more leave, a manifest holder the link names among them; the link (unchanged) still opens,
  // its segments read from the fragments left and the repaired ones.
  leave(farmerOf(holders[2]!).pid)
  leave(g.farmers.find(f => !gone.has(f.pid))!.pid)
  const b = await browser.newContext()
  await useRelay(b, g.relay.addr)
  const pageB = await b.newPage()
  const bytes = await downloadLink(pageB, link)
  expect(sha256(bytes)).toBe(sha256(file.buffer))
  await a.close(); await b.close()
})
