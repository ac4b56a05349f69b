import { defineConfig } from 'vite'

// The app itself (Svelte 5 PWA) is not built yet; for now Vite serves the codec to the browser
// harness pages under e2e/harness/ that the Playwright tests drive.
export default defineConfig({
  server: { host: '127.0.0.1', strictPort: true },
  preview: { host: '127.0.0.1', strictPort: true },
  worker: { format: 'es' },
  build: { target: 'es2023' }
})
