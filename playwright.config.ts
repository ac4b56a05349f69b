import { defineConfig } from '@playwright/test'
import { CHROMIUM_ARGS, CHROMIUM_PATH } from './scripts/chromium.ts'

const HARNESS_PORT = Number(process.env.SHARDFARM_E2E_PORT ?? 4317)
const APP_PORT = Number(process.env.SHARDFARM_APP_PORT ?? 4318)

// Debian's Chromium and its flags, shared with the Vitest browser project (vitest.browser.config.ts)
// and bench/browser.ts. `npm run test:e2e` runs everything inside a loopback-only network namespace.
export { CHROMIUM_ARGS } from './scripts/chromium.ts'

const chromium = { browserName: 'chromium' as const, launchOptions: { executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS } }

export default defineConfig({
  testDir: 'e2e',
  timeout: 300_000,
  workers: 1,
  reporter: process.env.CI === 'true' ? 'line' : 'list',
  outputDir: 'test-results',
  use: { screenshot: 'only-on-failure', ...chromium },
  projects: [
    // Library pieces in the browser (codec worker, IndexedDB store), on the dev server.
    { name: 'harness', testMatch: /(codec|idb-store)\.spec\.ts/, use: { baseURL: `http://127.0.0.1:${HARNESS_PORT}` } },
    // The built app (service worker and all), as people get it.
    { name: 'app', testMatch: /app-.*\.spec\.ts/, use: { baseURL: `http://127.0.0.1:${APP_PORT}`, serviceWorkers: 'allow' } }
  ],
  webServer: [
    {
      command: `vite --port ${HARNESS_PORT}`,
      url: `http://127.0.0.1:${HARNESS_PORT}/e2e/harness/codec.html`,
      reuseExistingServer: false,
      timeout: 60_000
    },
    {
      command: `vite build --logLevel warn && vite preview --port ${APP_PORT}`,
      url: `http://127.0.0.1:${APP_PORT}/`,
      reuseExistingServer: false,
      timeout: 120_000
    }
  ]
})
