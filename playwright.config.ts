import { defineConfig } from '@playwright/test'

const HARNESS_PORT = Number(process.env.SHARDFARM_E2E_PORT ?? 4317)
const APP_PORT = Number(process.env.SHARDFARM_APP_PORT ?? 4318)

// Debian's Chromium: a browser download cannot work on these machines (see DESIGN.md). The WebRTC
// flags let two headless pages connect over loopback; `npm run test:e2e` runs everything inside a
// loopback-only network namespace (scripts/netns.sh), so no candidate or packet leaves the machine.
export const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--no-first-run', '--disable-quic',
  '--allow-loopback-in-peer-connection', '--use-fake-ui-for-media-stream', '--disable-features=WebRtcHideLocalIpsWithMdns'
]

const chromium = { browserName: 'chromium' as const, launchOptions: { executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: CHROMIUM_ARGS } }

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
