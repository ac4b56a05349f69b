// Three relays federated over gossipsub and thirty farmers: 27 full farmers in three processes of
// nine (each process announcing to one relay only), and three light farmers in Chromium pages, each
// holding reservations on two of the relays. Every relay lists every farmer within 3 s of its start,
// so a farmer that announced to one relay is found through any of them.
//   A full farmer starts when its process prints its addresses (all nine up and announcing); a light
//   farmer when the person clicks "Offer storage", and its start includes opening the circuit
//   reservations that give it an address at all.
import { join } from 'node:path'
import { test, expect, type Page } from '@playwright/test'
import { multiaddr } from '@multiformats/multiaddr'
import type { Libp2p } from '@libp2p/interface'
import { createNodeLibp2p } from '../src/net/libp2p.node.ts'
import { queryDirectoryPage } from '../src/net/protocols/directory.ts'
import { Grid, peerOf, type TestChild } from '../test/grid/helpers.ts'
import { openApp, useRelay } from './app-fixtures.ts'

const FULL_PER_PROCESS = 9
const WITHIN_MS = 3_000

const grid = new Grid()
const relays: TestChild[] = []
let client: Libp2p

/** The peer ids each relay lists now. */
async function listedBy (): Promise<Array<Set<string>>> {
  return await Promise.all(relays.map(async r => {
    const page = await queryDirectoryPage(client, multiaddr(r.addr), { limit: 1000 }, { signal: AbortSignal.timeout(2_000) }).catch(() => ({ farmers: [] }))
    return new Set(page.farmers.map(f => f.peerId))
  }))
}

/**
 * Polls every relay until each of `peers` is listed by all of them; the ms from `startedAt` at
 * which each one was first seen on all three (Infinity if not within `timeoutMs`).
 */
async function timesToAll (peers: string[], startedAt: (p: string) => number, timeoutMs: number): Promise<Map<string, number>> {
  const seen = new Map<string, number>()
  const until = Date.now() + timeoutMs
  while (seen.size < peers.length && Date.now() < until) {
    const lists = await listedBy()
    const now = Date.now()
    for (const p of peers) if (!seen.has(p) && lists.every(l => l.has(p))) seen.set(p, now - startedAt(p))
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  return new Map(peers.map(p => [p, seen.get(p) ?? Infinity]))
}

test.beforeAll(async () => {
  await grid.init()
  for (let i = 0; i < 3; i++) {
    relays.push(await grid.start(`relay-${i}`, ['relay', '--data', join(grid.root, `relay-${i}`), '--vetting-period', '0s', '--shared-subnets',
      ...relays.flatMap(r => ['--peer', r.addr])]))
  }
  client = await createNodeLibp2p()
  await new Promise(resolve => setTimeout(resolve, 1_500)) // the relays' meshes form (gossipsub heartbeat: 1 s)
})
test.afterAll(async () => {
  await client?.stop()
  await grid.destroy()
})

test('3 relays and 30 farmers, 3 of them light farmers in Chromium: every relay lists every farmer within 3 s of its start', async ({ browser }, info) => {
  test.setTimeout(180_000)
  // 27 full farmers, nine to a process; process i announces to relay i only: the others learn them by gossip.
  const started = new Map<string, number>()
  const full = (await Promise.all(relays.map(async (r, i) => {
    const host = await grid.start(`farmers-${i}`, ['farmer', '--data', grid.root, '--count', String(FULL_PER_PROCESS), '--first', String(i * FULL_PER_PROCESS),
      '--relay', r.addr, '--heartbeat', '1000'])
    const at = Date.now()
    const peers = host.addr.split(' ').map(peerOf)
    for (const p of peers) started.set(p, at)
    return peers
  }))).flat()
  expect(full).toHaveLength(27)
  const fullTimes = await timesToAll(full, p => started.get(p)!, 30_000)

  // Three light farmers, page i holding reservations on relays i and i + 1.
  const pages: Page[] = []
  for (let i = 0; i < 3; i++) {
    const ctx = await browser.newContext()
    await useRelay(ctx, `${relays[i]!.addr},${relays[(i + 1) % 3]!.addr}`)
    const page = await ctx.newPage()
    await openApp(page, '/#/farm')
    pages.push(page)
  }
  const clicked = await Promise.all(pages.map(async page => { await page.getByTestId('farm-toggle').click(); return Date.now() }))
  const light: string[] = []
  const lightStarted = new Map<string, number>()
  for (const [i, page] of pages.entries()) {
    await expect(page.getByTestId('farm-peer-id')).toHaveText(/^12D3Koo\w+$/, { timeout: 60_000 })
    const peer = (await page.getByTestId('farm-peer-id').textContent())!
    light.push(peer)
    lightStarted.set(peer, clicked[i]!)
  }
  const lightTimes = await timesToAll(light, p => lightStarted.get(p)!, 60_000)

  const all = [...full, ...light]
  const lists = await listedBy()
  for (const [i, l] of lists.entries()) expect([...l].filter(p => all.includes(p)).length, `relay ${i}`).toBe(30)
  const sorted = (m: Map<string, number>): number[] => [...m.values()].sort((a, b) => a - b)
  info.annotations.push({ type: 'full farmers on all 3 relays (ms from start)', description: sorted(fullTimes).join(' ') })
  info.annotations.push({ type: 'light farmers on all 3 relays (ms from click)', description: sorted(lightTimes).join(' ') })
  for (const [p, ms] of [...fullTimes, ...lightTimes]) expect(ms, `farmer ${p}`).toBeLessThanOrEqual(WITHIN_MS)
  await Promise.all(pages.map(async page => { await page.context().close() }))
})
