import { defineConfig } from '@playwright/test'

const PORT = Number(process.env.SHARDFARM_E2E_PORT ?? 4317)

// Debian's Chromium: a browser download cannot work on these machines (see DESIGN.md).
export const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--no-first-run', '--disable-quic'
]

export default defineConfig({
  testDir: 'e2e',
  timeout: 60_000,
  workers: 1,
  reporter: process.env.CI === 'true' ? 'line' : 'list',
  outputDir: 'test-results',
  use: {
    baseURL: `http://127.0.0.1:${PORT}`,
    browserName: 'chromium',
    launchOptions: { executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: CHROMIUM_ARGS },
    screenshot: 'only-on-failure'
  },
  webServer: {
    command: `vite --port ${PORT}`,
    url: `http://127.0.0.1:${PORT}/e2e/harness/codec.html`,
    reuseExistingServer: false,
    timeout: 60_000
  }
})
