// The built app is served with a strict Content-Security-Policy (header from `vite preview`, the
// server `npm start` runs too, and a <meta> fallback in index.html) and works under it: an upload,
// its share link downloaded in another context, a picture and a sound previewed, the QR code and
// the network view, all without one violation in the page, its workers or its service worker.
import { test, expect, type BrowserContext, type Page } from '@playwright/test'
import { downloadLink, openApp, pngFile, randomFile, sha256, startGrid, uploadFile, useRelay, wavFile, type TestGrid } from './app-fixtures.ts'

let g: TestGrid
test.beforeAll(async () => { g = await startGrid(18, { perProcess: 9 }) }) // live (6 + 12) needs 18
test.afterAll(async () => { await g.grid.destroy() })

const REQUIRED = [
  "default-src 'self'", "script-src 'self' 'wasm-unsafe-eval'", "connect-src 'self' blob: ws: wss: http: https:", "style-src 'self'",
  "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'"
]

/** Every CSP violation a context's pages report (event or console line), and any page error. */
async function watch (context: BrowserContext): Promise<{ page: () => Promise<Page>, seen: string[] }> {
  const seen: string[] = []
  await context.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI} at ${e.sourceFile}:${e.lineNumber}`)
    })
  })
  const page = async (): Promise<Page> => {
    const p = await context.newPage()
    p.on('console', (m) => { if (/Content.Security.Policy|CSP violation|Refused to/i.test(m.text())) seen.push(m.text()) })
    p.on('pageerror', (err) => { if (/Content.Security.Policy|Refused to/i.test(err.message)) seen.push(err.message) })
    p.on('worker', (w) => { w.on('console', (m) => { if (/Content.Security.Policy|Refused to/i.test(m.text())) seen.push(`worker: ${m.text()}`) }) })
    return p
  }
  return { page, seen }
}

test('the app is served with a strict CSP and an upload, share-link download and previews cause no violation', async ({ browser, request }) => {
  // The header on the page, its scripts and the service worker; the <meta> fallback in the page.
  for (const path of ['/', '/sw.js']) {
    const res = await request.get(path)
    expect(res.ok(), path).toBe(true)
    const csp = res.headers()['content-security-policy'] ?? ''
    for (const d of REQUIRED) expect(csp, `${path}: ${csp}`).toContain(d)
    expect(csp).not.toContain('unsafe-inline')
    expect(csp).not.toMatch(/'unsafe-eval'/)
  }

  const a = await browser.newContext()
  await useRelay(a, g.relay.addr)
  const wa = await watch(a)
  const pageA = await wa.page()
  const doc = await pageA.goto('/')
  expect(doc?.headers()['content-security-policy']).toContain("script-src 'self' 'wasm-unsafe-eval'")
  const meta = await pageA.evaluate(() => document.querySelector('meta[http-equiv="Content-Security-Policy"]')?.getAttribute('content'))
  for (const d of REQUIRED.filter(d => !d.startsWith('frame-ancestors'))) expect(meta).toContain(d)
  expect(meta).not.toContain('frame-ancestors') // a <meta> cannot carry it (and Chromium says so in the console)
  await openApp(pageA)
  const file = randomFile('csp.bin', 5 * 1024 * 1024)
  const link = await uploadFile(pageA, file)
  const png = pngFile('csp.png', 120, 80)
  const pngLink = await uploadFile(pageA, png)
  const wavLink = await uploadFile(pageA, wavFile('csp.wav', 1))
  await pageA.getByRole('button', { name: 'Show the QR code of the link to csp.png' }).click()
  await expect(pageA.getByTestId('qr')).toBeVisible()
  await pageA.goto('/#/network')
  await expect(pageA.getByTestId('farmer-row')).toHaveCount(18, { timeout: 15_000 })
  await pageA.goto('/#/files')
  await expect(pageA.getByTestId('my-file')).toHaveCount(3)

  const b = await browser.newContext() // someone with only the links
  await useRelay(b, g.relay.addr)
  const wb = await watch(b)
  const pageB = await wb.page()
  const bytes = await downloadLink(pageB, link)
  expect(sha256(bytes)).toBe(sha256(file.buffer))
  await pageB.goto(pngLink)
  await expect.poll(async () => await pageB.getByTestId('preview-image').evaluate(i => (i as HTMLImageElement).naturalWidth), { timeout: 60_000 }).toBe(120)
  await pageB.goto(wavLink)
  await expect.poll(async () => await pageB.getByTestId('preview-audio').evaluate(el => (el as HTMLAudioElement).duration), { timeout: 60_000 }).toBeCloseTo(1, 2)

  expect([...wa.seen, ...wb.seen]).toEqual([])
  await a.close(); await b.close()
})
