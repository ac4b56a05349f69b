import { test, expect } from '@playwright/test'
import type { Page } from '@playwright/test'
import { openApp, shot, startGrid, useRelay, type TestGrid } from './app-fixtures.ts'

// A light farmer (the app's Farm view: IndexedDB, reached over WebRTC) answers audits. The client is
// a second page running the client the app runs (`e2e/harness/grid-client.ts`): the CLI cannot
// reach a light farmer, since Node here dials WebSockets only. Its check is `shardfarm check --json`'s:
// per segment, the fragments whose copies were proven by audit.

const HARNESS = `http://127.0.0.1:${Number(process.env.SHARDFARM_E2E_PORT ?? 4317)}/e2e/harness/grid-client.html`
/** 4 + 3 over six full farmers and the page: every segment has exactly one fragment on the page. */
const POLICY = { name: 't', k: 4, m: 3, kinds: 'mixed' as const }
const SHARD = 256 * 1024
/** Two segments of 4 × 256 KiB (less the 16-byte tag). */
const SIZE = 1536 * 1024
const FARM_DB = 'shardfarm-farm'

let g: TestGrid
test.beforeAll(async () => { g = await startGrid(6) })
test.afterAll(async () => { await g.grid.destroy() })

/** Ids of the fragments in the page's light-farmer database. */
async function heldIds (page: Page): Promise<string[]> {
  return await page.evaluate(async (name) => await new Promise<string[]>((resolve, reject) => {
    const open = indexedDB.open(name)
    open.onerror = () => { reject(open.error) }
    open.onsuccess = () => {
      const req = open.result.transaction('fragments').objectStore('fragments').getAllKeys()
      req.onerror = () => { reject(req.error) }
      req.onsuccess = () => { open.result.close(); resolve(req.result.map(String)) }
    }
  }), FARM_DB)
}

/** Flips 16 bytes in the middle of a stored fragment, behind the store's back (bit rot, a bad disk). */
async function corrupt (page: Page, id: string): Promise<void> {
  await page.evaluate(async ([name, key]) => { await new Promise<void>((resolve, reject) => {
    const open = indexedDB.open(name)
    open.onerror = () => { reject(open.error) }
    open.onsuccess = () => {
      const tx = open.result.transaction('fragments', 'readwrite')
      const store = tx.objectStore('fragments')
      const get = store.get(key)
      get.onsuccess = () => {
        const bytes = new Uint8Array(get.result as Uint8Array)
        const at = bytes.length >> 1
        for (let i = at; i < at + 16; i++) bytes[i] = bytes[i]! ^ 0xff
        store.put(bytes, key)
      }
      tx.oncomplete = () => { open.result.close(); resolve() }
      tx.onerror = () => { reject(tx.error) }
    }
  }) }, [FARM_DB, id] as const)
}

/**
 * Opens the grid-client harness in `page` and runs `call` (an evaluation in it). The dev server may
 * find dependencies it had not pre-bundled the first time the page loads them (the libp2p stack, the
 * codec worker) and reload the page once: then the harness is opened again and `call` runs again.
 */
async function inHarness<T> (page: Page, call: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      if (!page.url().startsWith(HARNESS)) await page.goto(HARNESS)
      await expect(page.locator('#status')).toHaveText('ready', { timeout: 60_000 })
      return await call()
    } catch (err) {
      if (attempt >= 3 || !/context was destroyed|navigation/i.test(String(err))) throw err
      await page.waitForLoadState('load')
    }
  }
}

/** `shardfarm check --json`'s segments, from the harness page. */
async function check (page: Page, link: string): Promise<Array<{ proven: number, claimed: number, missing: number, n: number, status: string }>> {
  return await inHarness(page, async () => await page.evaluate(async ([relay, l]) => await window.gridClient.check(relay, l), [g.relay.addr, link] as const))
}

test('a browser lending storage proves its fragments by audit, and a copy corrupted in its IndexedDB fails', async ({ browser }, info) => {
  const c = await browser.newContext()
  await useRelay(c, g.relay.addr)
  const farm = await c.newPage()
  await openApp(farm, '/#/farm')
  await farm.getByTestId('farm-toggle').click()
  await expect(farm.getByTestId('farm-listed')).toHaveAttribute('data-listed', 'true', { timeout: 60_000 })
  const lightPeer = (await farm.getByTestId('farm-peer-id').textContent())!.trim()

  const a = await browser.newContext()
  const client = await a.newPage()
  const put = await inHarness(client, async () => await client.evaluate(async ([relay, policy, size, shard]) =>
    await window.gridClient.put(relay, size, policy, shard), [g.relay.addr, POLICY, SIZE, SHARD] as const))
  expect(put.fragments).toHaveLength(2)

  // One fragment of each segment is in the page's IndexedDB, and the manifest names the page as its holder.
  const held = new Set(await heldIds(farm))
  const onPage = put.fragments.map((ids, s) => {
    const i = ids.findIndex(id => held.has(id))
    expect(ids.filter(id => held.has(id)), `segment ${s}`).toHaveLength(1)
    expect(put.holders[s]![i]).toContain(lightPeer)
    return ids[i]!
  })

  // Every copy proven by audit, the page's included: 7 of 7 in each segment.
  const first = await check(client, put.link)
  expect(first.map(s => [s.proven, s.n, s.status])).toEqual([[7, 7, 'healthy'], [7, 7, 'healthy']])
  const before = await client.evaluate((peer) => window.gridClient.score(peer), lightPeer)
  expect(before).toMatchObject({ audits: 2 })
  await shot(farm, info, 'farm-audited')

  // The page's copy of segment 0 rots in IndexedDB. Its audit reads it through the store's hash
  // check: the farmer finds it corrupt, drops it and cannot prove it; segment 1's copy still passes.
  await corrupt(farm, onPage[0]!)
  const second = await check(client, put.link)
  expect(second.map(s => [s.proven, s.n])).toEqual([[6, 7], [7, 7]])
  expect(second[0]!.proven + second[0]!.claimed + second[0]!.missing).toBe(7)
  const after = await client.evaluate((peer) => window.gridClient.score(peer), lightPeer)
  // The auditor's score book has the light farmer's failure: two more audits, one failed, and a lower score.
  expect(after!.audits).toBe(4)
  expect(after!.beta).toBeGreaterThan(before!.beta)
  expect(after!.score).toBeLessThan(before!.score)
  expect(await heldIds(farm)).not.toContain(onPage[0])
  expect(await heldIds(farm)).toContain(onPage[1])
  await a.close(); await c.close()
})
