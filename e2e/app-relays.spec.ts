// Pages with several relays (three relays, not federated: every full farmer announces to all). A
// page whose first relay is dead (SIGKILLed: a child this test started) still finds the grid at
// once: its directory asks the next relay when the first has not answered within a few hundred ms,
// so the first directory answer comes in under a second. A page offering storage with two live
// relays holds a circuit reservation on each and is listed by both.
import { join } from 'node:path'
import { test, expect } from '@playwright/test'
import { createNodeLibp2p } from '../src/net/libp2p.node.ts'
import { Grid, peerOf, waitForDirectory, type TestChild } from '../test/grid/helpers.ts'
import { openApp, REGIONS, useRelay } from './app-fixtures.ts'

// The page's User Timing marks around its first directory query (`DIRECTORY_MARKS` in src/app/state/session.svelte.ts).
const DIRECTORY_MARKS = { asked: 'shardfarm:directory-asked', answered: 'shardfarm:directory-answered' }

const grid = new Grid()
const relays: TestChild[] = []
test.beforeAll(async () => {
  await grid.init()
  for (let i = 0; i < 3; i++) {
    relays.push(await grid.start(`relay-${i}`, ['relay', '--data', join(grid.root, `relay-${i}`), '--directory-ttl', '6000',
      '--vetting-period', '0s', '--shared-subnets']))
  }
  await Promise.all(Array.from({ length: 3 }, async (_, i) => await grid.start(`farmer-${i}`, ['farmer', '--data', join(grid.root, `farmer-${i}`),
    ...relays.flatMap(r => ['--relay', r.addr]), '--region', REGIONS[i % REGIONS.length]!, '--heartbeat', '1000'])))
  process.kill(relays[0]!.pid, 'SIGKILL')
  await relays[0]!.exited
})
test.afterAll(async () => { await grid.destroy() })

test('a page whose first relay is dead gets its first directory answer in under 1 s, from the second', async ({ browser }, info) => {
  const ctx = await browser.newContext()
  await useRelay(ctx, `${relays[0]!.addr},${relays[1]!.addr}`)
  const page = await ctx.newPage()
  await openApp(page)
  const ms = await page.evaluate(({ asked, answered }) => performance.measure('first directory answer', asked, answered).duration, DIRECTORY_MARKS)
  info.annotations.push({ type: 'first directory answer', description: `${Math.round(ms)} ms` })
  expect(ms).toBeLessThan(1000)
  await page.getByRole('link', { name: 'Network' }).click()
  await expect(page.getByRole('heading', { name: 'Farmers (3)' })).toBeVisible({ timeout: 10_000 })
  await ctx.close()
})

test('a page offering storage with two relays holds a reservation on each and is listed by both', async ({ browser }) => {
  const ctx = await browser.newContext()
  await useRelay(ctx, `${relays[1]!.addr},${relays[2]!.addr}`)
  const page = await ctx.newPage()
  await openApp(page, '/#/farm')
  await page.getByTestId('farm-toggle').click()
  await expect(page.getByTestId('farm-listed')).toHaveAttribute('data-listed', 'true', { timeout: 60_000 })
  const node = await createNodeLibp2p()
  try {
    const both = (addrs: string[]): boolean => [relays[1]!, relays[2]!].every(held => addrs.some(a => a.includes(`/p2p/${peerOf(held.addr)}/p2p-circuit`)))
    for (const r of [relays[1]!, relays[2]!]) {
      // The second reservation may come a heartbeat after the first announce (every 2 s here).
      const listed = await waitForDirectory(node, r.addr, l => l.some(f => f.kind === 'light' && both(f.addrs)), 30_000)
      const light = listed.find(f => f.kind === 'light')
      expect(light, `listed by ${r.name}`).toBeDefined()
      // Reachable through either relay: one circuit address through each.
      for (const held of [relays[1]!, relays[2]!]) {
        expect(light!.addrs.some(a => a.includes(`/p2p/${peerOf(held.addr)}/p2p-circuit`)), `circuit through ${held.name} in ${light!.addrs.join(' ')}`).toBe(true)
      }
    }
  } finally {
    await node.stop()
    await ctx.close()
  }
})
