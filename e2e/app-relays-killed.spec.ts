// Three federated relays, eighteen full farmers announcing to all of them (nine to a process), and a
// page that knows the three. Two relays are SIGKILLed (children this test started): within one
// heartbeat the survivor lists every farmer, and the page, never reloaded, uploads a file and a
// second page, given the same relays, downloads it byte-identical.
import { join } from 'node:path'
import { test, expect } from '@playwright/test'
import { createNodeLibp2p } from '../src/net/libp2p.node.ts'
import { Grid, waitForDirectory, type TestChild } from '../test/grid/helpers.ts'
import { downloadLink, openApp, randomFile, sha256, uploadFile, useRelay } from './app-fixtures.ts'

const HEARTBEAT_MS = 1000
const grid = new Grid()
const relays: TestChild[] = []
test.beforeAll(async () => {
  await grid.init()
  for (let i = 0; i < 3; i++) {
    relays.push(await grid.start(`relay-${i}`, ['relay', '--data', join(grid.root, `relay-${i}`), '--directory-ttl', '6000',
      '--vetting-period', '0s', '--shared-subnets', ...relays.flatMap(r => ['--peer', r.addr])]))
  }
  await Promise.all([0, 9].map(async first => await grid.start(`farmers-${first}`, ['farmer', '--data', grid.root, '--count', '9', '--first', String(first),
    ...relays.flatMap(r => ['--relay', r.addr]), '--heartbeat', String(HEARTBEAT_MS)])))
})
test.afterAll(async () => { await grid.destroy() })

test('with two of three relays killed, every farmer stays listed and a page uploads and another downloads', async ({ browser }, info) => {
  const list = relays.map(r => r.addr).join(',')
  const a = await browser.newContext()
  await useRelay(a, list)
  const page = await a.newPage()
  await openApp(page)
  const node = await createNodeLibp2p()
  try {
    await waitForDirectory(node, relays[2]!.addr, l => l.length === 18, 20_000)
    for (const r of relays.slice(0, 2)) process.kill(r.pid, 'SIGKILL')
    await Promise.all(relays.slice(0, 2).map(async r => await r.exited))
    const killed = Date.now()
    const listed = await waitForDirectory(node, relays[2]!.addr, l => l.length === 18, HEARTBEAT_MS)
    expect(listed).toHaveLength(18)
    info.annotations.push({ type: 'survivor lists every farmer', description: `${Date.now() - killed} ms after the kill` })
  } finally {
    await node.stop()
  }
  const file = randomFile('survives-relays.bin', 4 * 1024 * 1024)
  const link = await uploadFile(page, file)
  const b = await browser.newContext()
  await useRelay(b, list)
  const bytes = await downloadLink(await b.newPage(), link)
  expect(sha256(bytes)).toBe(sha256(file.buffer))
  await a.close(); await b.close()
})
