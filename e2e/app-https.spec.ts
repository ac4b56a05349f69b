// The app served over HTTPS (the built app, answered at an https:// origin by the test, in a
// context that trusts the test's self-signed certificate). A secure page may open only wss://:
// against a grid whose relay speaks ws:// it says so plainly and does not pretend to be offline;
// against a grid serving wss (`--tls-cert`, `--tls-key`) it uploads a file and reads it back.
import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { request } from 'node:http'
import { createServer, type Server } from 'node:https'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { test, expect, type BrowserContext } from '@playwright/test'
import { Grid, type TestChild } from '../test/grid/helpers.ts'
import { downloadLink, randomFile, sha256, shot, uploadFile } from './app-fixtures.ts'

// The page reaches a loopback grid only when it is itself served from loopback: libp2p's browser
// gater (`allowLocal` in libp2p.browser.ts) and Chromium's local network access checks both say so.
// So the wss test serves the built app from a real HTTPS server on 127.0.0.1 (a proxy to the preview
// server), and the ws test answers it at a made-up public name by route.
const ELSEWHERE = 'https://shardfarm.test'
let ORIGIN = ''
let proxy: Server | undefined
const grid = new Grid()
let plain: TestChild
let secure: TestChild
const caBefore = process.env.NODE_EXTRA_CA_CERTS

test.beforeAll(async () => {
  await grid.init()
  const cert = join(grid.root, 'cert.pem')
  const key = join(grid.root, 'key.pem')
  await promisify(execFile)('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'])
  process.env.NODE_EXTRA_CA_CERTS = cert // the relay dials farmers back over wss
  const preview = `http://127.0.0.1:${process.env.SHARDFARM_APP_PORT ?? 4318}`
  proxy = createServer({ cert: await readFile(cert), key: await readFile(key) }, (req, res) => {
    const up = request(new URL(req.url ?? '/', preview), { method: req.method, headers: req.headers }, r => { res.writeHead(r.statusCode ?? 502, r.headers); r.pipe(res) })
    up.on('error', () => { res.writeHead(502).end() })
    req.pipe(up)
  })
  await new Promise<void>(resolve => proxy!.listen(0, '127.0.0.1', resolve))
  ORIGIN = `https://127.0.0.1:${(proxy.address() as AddressInfo).port}`
  plain = await grid.start('plain-relay', ['relay', '--data', join(grid.root, 'plain'), '--vetting-period', '0', '--shared-subnets'])
  secure = await grid.start('relay', ['relay', '--data', join(grid.root, 'relay'), '--vetting-period', '0', '--shared-subnets', '--tls-cert', cert, '--tls-key', key])
  // 18 farmers, nine to a process: `live` (6 + 12) fits.
  await Promise.all([0, 9].map(async first => await grid.start(`farmers-${first}`, ['farmer', '--data', grid.root, '--count', '9', '--first', String(first),
    '--relay', secure.addr, '--heartbeat', '1000', '--tls-cert', cert, '--tls-key', key])))
})
test.afterAll(async () => {
  proxy?.closeAllConnections()
  proxy?.close()
  if (caBefore === undefined) delete process.env.NODE_EXTRA_CA_CERTS
  else process.env.NODE_EXTRA_CA_CERTS = caBefore
  await grid.destroy()
})

/** A context that trusts the test's certificate, with `relay` set; pages of `routed` (an HTTPS origin) get the built app. */
async function httpsApp (browser: import('@playwright/test').Browser, baseURL: string, relay: string, routed?: string): Promise<BrowserContext> {
  const ctx = await browser.newContext({ ignoreHTTPSErrors: true, serviceWorkers: 'block' })
  if (routed !== undefined) {
    await ctx.route(`${routed}/**`, async route => {
      const url = new URL(route.request().url())
      await route.fulfill({ response: await route.fetch({ url: new URL(url.pathname + url.search, baseURL).toString() }) })
    })
  }
  await ctx.addInitScript((addr) => {
    localStorage.setItem('shardfarm.relay', addr)
    Object.defineProperty(window, 'showSaveFilePicker', { value: undefined, configurable: true, writable: true })
  }, relay)
  return ctx
}

test('over HTTPS, a grid that speaks only ws:// is named as the problem, not as offline', async ({ browser, baseURL }, info) => {
  const ctx = await httpsApp(browser, baseURL!, plain.addr, ELSEWHERE)
  const page = await ctx.newPage()
  await page.goto(`${ELSEWHERE}/`)
  expect(await page.evaluate(() => window.isSecureContext && location.protocol)).toBe('https:')
  const status = page.locator('[role=status][data-status]')
  await expect(status).toHaveAttribute('data-status', 'insecure', { timeout: 30_000 })
  await expect(status).toContainText('cannot open the grid\'s ws:// relays')
  await shot(page, info, 'https-insecure-grid')
  await ctx.close()
})

test('over HTTPS, a grid serving wss takes an upload and gives it back byte-identical', async ({ browser, baseURL }, info) => {
  const ctx = await httpsApp(browser, baseURL!, secure.addr)
  const page = await ctx.newPage()
  await page.goto(`${ORIGIN}/`)
  await expect(page.locator('[role=status][data-status]')).toHaveAttribute('data-status', 'online', { timeout: 30_000 })
  await page.goto(`${ORIGIN}/#/network`)
  await expect(page.getByTestId('farmer-row')).toHaveCount(18, { timeout: 15_000 })
  await page.goto(`${ORIGIN}/#/upload`)
  const file = randomFile('over-tls.bin', 3 * 1024 * 1024)
  const link = await uploadFile(page, file, 'live')
  expect(link.startsWith(`${ORIGIN}/#shardfarm:`)).toBe(true)
  await shot(page, info, 'https-upload-done')
  const b = await httpsApp(browser, baseURL!, secure.addr)
  const bytes = await downloadLink(await b.newPage(), link)
  expect(sha256(bytes)).toBe(sha256(file.buffer))
  await ctx.close(); await b.close()
})
