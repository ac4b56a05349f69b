import { defineConfig } from 'vitest/config'
import { svelte } from '@sveltejs/vite-plugin-svelte'

export default defineConfig({
  // The Svelte plugin compiles the app's rune classes (*.svelte.ts) for their specs.
  plugins: [svelte()],
  test: {
    include: ['src/**/*.test.ts', 'relay/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks'
  }
})
