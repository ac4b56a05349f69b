/**
 * Vitest in the browser: every `*.browser.test.ts` runs in Debian's Chromium, with the whole of
 * vitest's API (the shared conformance suites import 'vitest'). `npm run test:browser` runs it
 * inside a loopback-only network namespace (scripts/netns.sh), as `npm run test:e2e` does.
 * Node tests are in vitest.config.ts; Playwright (e2e/) keeps what needs a page reload or the app.
 */
import { defineConfig } from 'vitest/config'
import { svelte } from '@sveltejs/vite-plugin-svelte'
import { playwright } from '@vitest/browser-playwright'
import { CHROMIUM_ARGS, CHROMIUM_PATH } from './scripts/chromium.ts'

export default defineConfig({
  // As in vitest.config.ts, so a browser suite can import the app's rune classes (*.svelte.ts).
  plugins: [svelte()],
  // Vite's own cache for this run, apart from the dev server's and the unit runs'.
  cacheDir: 'node_modules/.vite-browser-tests',
  // Pre-bundled up front: found only while the suites load, they made a fresh cache reload the page once.
  optimizeDeps: { include: ['idb', '@libp2p/crypto/keys', '@libp2p/peer-id'] },
  test: {
    name: 'browser',
    include: ['src/**/*.browser.test.ts', 'relay/**/*.browser.test.ts', 'test/**/*.browser.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    browser: {
      enabled: true,
      headless: true,
      provider: playwright({ launchOptions: { executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS } }),
      instances: [{ browser: 'chromium' }],
      // The tested page is inspected through the test's outcome, not pixels.
      screenshotFailures: false
    }
  }
})
