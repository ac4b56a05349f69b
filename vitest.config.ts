import { configDefaults, defineConfig } from 'vitest/config'
import { svelte } from '@sveltejs/vite-plugin-svelte'

export default defineConfig({
  // The Svelte plugin compiles the app's rune classes (*.svelte.ts) for their specs.
  plugins: [svelte()],
  test: {
    include: ['src/**/*.test.ts', 'relay/**/*.test.ts', 'test/**/*.test.ts'],
    // *.browser.test.ts run in Chromium: vitest.browser.config.ts, `npm run test:browser`.
    exclude: [...configDefaults.exclude, '**/*.browser.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks'
  }
})
