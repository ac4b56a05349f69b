// Lint rules that carry architecture: the pure core must not reach for I/O.
import js from '@eslint/js'
import tseslint from 'typescript-eslint'

const IO_LIBRARIES = [
  'idb', 'comlink', 'svelte', 'libp2p', '@libp2p/*', '@chainsafe/*', '@multiformats/*',
  'node:*', 'fs', 'path', 'os', 'net', 'http', 'worker_threads', 'child_process'
]

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'dist-cli/', '.tmp/', 'wasm/target/', 'test-results/', 'playwright-report/', '.shardfarm/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        console: 'readonly', process: 'readonly', URL: 'readonly', performance: 'readonly',
        setTimeout: 'readonly', clearTimeout: 'readonly', queueMicrotask: 'readonly',
        TextEncoder: 'readonly', TextDecoder: 'readonly', crypto: 'readonly', self: 'readonly',
        window: 'readonly', document: 'readonly', Worker: 'readonly', WebAssembly: 'readonly',
        AbortController: 'readonly', AbortSignal: 'readonly', DOMException: 'readonly',
        fetch: 'readonly', Response: 'readonly', Blob: 'readonly', structuredClone: 'readonly',
        setInterval: 'readonly', clearInterval: 'readonly', navigator: 'readonly', globalThis: 'readonly'
      }
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }]
    }
  },
  {
    files: ['src/app/sw.js'],
    languageOptions: { globals: { caches: 'readonly', clients: 'readonly', Response: 'readonly' } }
  },
  {
    files: ['src/core/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [{ group: IO_LIBRARIES, message: 'src/core is pure: no I/O libraries. Take a port instead.' }]
      }],
      'no-restricted-globals': ['error', 'window', 'document', 'indexedDB', 'fetch', 'localStorage']
    }
  }
)
