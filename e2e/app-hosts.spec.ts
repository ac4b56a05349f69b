// The app across network hosts (`test/support/hosts.ts`): a relay, 21 full farmers (on two farmer
// hosts) and two browsers, each Chromium on a host of its own, every part with an address of its
// own on a LAN. The grid speaks wss only, with a self-signed certificate the browsers are told to
// trust, and the app is opened at an https:// origin on the LAN. Browser B lends storage; browser A
// uploads with `mixed` (6 + 12 on full farmers and 4 more anywhere: the 21 full farmers and B fill
// its 22 places), so every segment sends B one fragment over WebRTC, browser to browser across
// hosts. Then the farmer host with 16 of the full farmers is SIGKILLed, and A's fresh page reads
// the file back from the 5 full farmers left and from B: k = 6, so B's fragments are needed.
//
// The app's origin: the test's own network namespace (one of its own, scripts/netns.sh) joins the
// LAN as the web host (LAN_PREFIX.50.2), and serves the built app there over HTTPS, a proxy to the
// preview server on its loopback. The browsers load it from a private address, as from a web server
// on the same LAN, so both the page and Chromium's local network access checks let it reach the grid.
import { execFile } from 'node:child_process'
import { chmod, readFile, writeFile } from 'node:fs/promises'
import { request } from 'node:http'
import { createServer, type Server } from 'node:https'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { test, expect, chromium, type Browser, type BrowserContext } from '@playwright/test'
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../scripts/chromium.ts'
import { Grid, type TestChild } from '../test/grid/helpers.ts'
import { LAN_PREFIX, Lan, namespacesUnavailable, startShardfarm, type Host } from '../test/support/hosts.ts'
import { downloadLink, randomFile, sha256, shot, uploadFile } from './app-fixtures.ts'

const unavailable = namespacesUnavailable()
const ORIGIN = `https://${LAN_PREFIX}.50.2`
const RELAY_PORT = 4001

const grid = new Grid()
const lan = new Lan()
let relay: TestChild
let web: Server | undefined
const farmerHosts: TestChild[] = []
const browsers: Browser[] = []
const caBefore = process.env.NODE_EXTRA_CA_CERTS

/** Chromium on `host`: Playwright drives it over a pipe, so it needs no network path to the test. */
async function browserOn (host: Host): Promise<Browser> {
  const wrapper = join(grid.root, `chromium-${host.name}.sh`)
  await writeFile(wrapper, `#!/bin/sh\nexec nsenter -t ${host.pid} -n -- ${CHROMIUM_PATH} "$@"\n`)
  await chmod(wrapper, 0o755)
  const b = await chromium.launch({ executablePath: wrapper, args: CHROMIUM_ARGS })
  browsers.push(b)
  return b
}

/** A context of `browser` on the app at ORIGIN, trusting the test's certificate, using the relay. */
async function appContext (browser: Browser): Promise<BrowserContext> {
  const ctx = await browser.newContext({ ignoreHTTPSErrors: true, serviceWorkers: 'block', baseURL: ORIGIN })
  await ctx.addInitScript((addr) => {
    localStorage.setItem('shardfarm.relay', addr)
    Object.defineProperty(window, 'showSaveFilePicker', { value: undefined, configurable: true, writable: true })
  }, relay.addr)
  return ctx
}

test.describe(`across network hosts${unavailable !== undefined ? ` (skipped: ${unavailable})` : ''}`, () => {
  test.skip(unavailable !== undefined)

  test.beforeAll(async ({ baseURL }) => {
    await grid.init()
    await lan.build([
      { name: 'relay', octet: 1 }, { name: 'farmers-a', octet: 11 }, { name: 'farmers-b', octet: 12 },
      { name: 'browser-a', octet: 100 }, { name: 'browser-b', octet: 101 }
    ])
    const host = await lan.join('web', 50)
    const ips = ['relay', 'farmers-a', 'farmers-b', 'web'].map(n => lan.host(n).ip)
    const cert = join(grid.root, 'cert.pem')
    const key = join(grid.root, 'key.pem')
    await promisify(execFile)('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=shardfarm test LAN', '-addext', `subjectAltName=${ips.map(ip => `IP:${ip}`).join(',')}`])
    process.env.NODE_EXTRA_CA_CERTS = cert // the relay dials farmers back over wss
    web = createServer({ cert: await readFile(cert), key: await readFile(key) }, (req, res) => {
      const up = request(new URL(req.url ?? '/', baseURL), { method: req.method, headers: req.headers }, r => { res.writeHead(r.statusCode ?? 502, r.headers); r.pipe(res) })
      up.on('error', () => { res.writeHead(502).end() })
      req.pipe(up)
    })
    await new Promise<void>(resolve => web!.listen(443, host.ip, resolve))
    // Two farmer hosts, each alone in its /24 but holding several farmers: the relay says they share subnets on purpose.
    relay = await startShardfarm(lan, lan.host('relay'), 'relay', ['relay', '--data', join(grid.root, 'relay'), '--listen', `${lan.host('relay').ip}:${RELAY_PORT}`,
      '--vetting-period', '0', '--shared-subnets', '--tls-cert', cert, '--tls-key', key])
    farmerHosts.push(...await Promise.all([['farmers-a', 16, 0], ['farmers-b', 5, 16]].map(async ([name, count, first]) => {
      const host = lan.host(name as string)
      return await startShardfarm(lan, host, name as string, ['farmer', '--data', join(grid.root, name as string), '--count', String(count), '--first', String(first),
        '--listen-host', host.ip, '--relay', relay.addr, '--heartbeat', '1000', '--tls-cert', cert, '--tls-key', key])
    })))
  })

  test.afterAll(async () => {
    await Promise.all(browsers.map(async b => { await b.close().catch(() => {}) }))
    web?.closeAllConnections()
    web?.close()
    await lan.destroy()
    await grid.destroy()
    if (caBefore === undefined) delete process.env.NODE_EXTRA_CA_CERTS
    else process.env.NODE_EXTRA_CA_CERTS = caBefore
  })

  test('two browsers on two hosts: one lends storage, the other uploads to it over WebRTC and reads the file back with it', async ({ baseURL: _ }, info) => {
    test.setTimeout(240_000)
    for (const f of farmerHosts) expect(f.addr).toContain(`/tls/ws/p2p/`)
    const [a, b] = [await browserOn(lan.host('browser-a')), await browserOn(lan.host('browser-b'))]

    const farmCtx = await appContext(b)
    const farm = await farmCtx.newPage()
    await farm.goto('/#/farm')
    expect(await farm.evaluate(() => window.isSecureContext && location.origin)).toBe(ORIGIN)
    await expect(farm.locator('[role=status][data-status]')).toHaveAttribute('data-status', 'online', { timeout: 60_000 })
    await farm.getByTestId('farm-toggle').click()
    await expect(farm.getByTestId('farm-listed')).toHaveAttribute('data-listed', 'true', { timeout: 60_000 })
    // Its circuit address is through the relay's host, not loopback.
    await expect(farm.getByTestId('farm-peer-id')).toHaveText(/^12D3Koo\w+$/)

    const upCtx = await appContext(a)
    const up = await upCtx.newPage()
    await up.goto('/#/network')
    await expect(up.locator('[data-testid=farmer-row]')).toHaveCount(22, { timeout: 60_000 })
    await up.goto('/#/upload')
    const file = randomFile('across-hosts.bin', 3 * 1024 * 1024)
    const link = await uploadFile(up, file, 'mixed')
    await expect.poll(async () => Number(await farm.getByTestId('farm-count').textContent()), { timeout: 30_000 }).toBeGreaterThan(0)
    await shot(farm, info, 'farm-on-another-host')

    // 16 of the 21 full farmers go for good: 5 are left, one short of k = 6 without B.
    process.kill(farmerHosts[0]!.pid, 'SIGKILL')
    await farmerHosts[0]!.exited
    const readCtx = await appContext(a)
    const reader = await readCtx.newPage()
    const bytes = await downloadLink(reader, link)
    expect(sha256(bytes)).toBe(sha256(file.buffer))
    // The Farm view refreshes its counters on a timer: the GETs B answered show within one tick.
    await expect.poll(async () => Number(await farm.getByTestId('farm-served').textContent()), { timeout: 15_000 }).toBeGreaterThan(0)
    await Promise.all([farmCtx, upCtx, readCtx].map(async c => { await c.close() }))
  })
})
