// Lint rules that carry architecture: the layers import only downward, and the pure core reaches
// for no I/O.
import js from '@eslint/js'
import tseslint from 'typescript-eslint'

const IO_LIBRARIES = [
  'idb', 'comlink', 'svelte', 'libp2p', '@libp2p/*', '@chainsafe/*', '@multiformats/*',
  'node:*', 'fs', 'path', 'os', 'net', 'http', 'worker_threads', 'child_process'
]

/**
 * The layers, bottom to top; each may import itself and the layers it lists, nothing else:
 *   core  <  codec, net, stores  <  client, farmer, relay  <  app, cli  <  bin
 * relay/ sits beside the farmer: both are services over net that the CLI starts (`shardfarm relay`,
 * `shardfarm farmer`). Siblings never import each other. Tests obey their layer too; a test that
 * needs parts of other layers gets them from a fixture under test/support/, which only tests
 * import.
 */
const LAYERS = [
  { name: 'core', files: ['src/core/**'], may: [] },
  { name: 'codec', files: ['src/codec/**'], may: ['core'] },
  { name: 'net', files: ['src/net/**'], may: ['core'] },
  { name: 'stores', files: ['src/stores/**'], may: ['core'] },
  { name: 'client', files: ['src/client/**'], may: ['core', 'codec', 'net', 'stores'] },
  { name: 'farmer', files: ['src/farmer/**'], may: ['core', 'codec', 'net', 'stores'] },
  { name: 'relay', files: ['relay/**'], may: ['core', 'codec', 'net', 'stores'] },
  { name: 'app', files: ['src/app/**'], may: ['core', 'codec', 'net', 'stores', 'client', 'farmer'] },
  { name: 'cli', files: ['src/cli/**'], may: ['core', 'codec', 'net', 'stores', 'client', 'farmer', 'relay'] },
  { name: 'bin', files: ['bin/**'], may: ['core', 'codec', 'net', 'stores', 'client', 'farmer', 'relay', 'app', 'cli'] }
]
const TESTS = ['**/*.test.ts']
const CORE_IS_PURE = { group: IO_LIBRARIES, message: 'src/core is pure: no I/O libraries. Take a port instead.' }
const TEST_SUPPORT = { group: ['**/test/**'], message: 'test/ holds fixtures for tests; code that ships never imports it.' }

/**
 * The import patterns `layer` may not use. `no-restricted-imports` matches the import string, so
 * a layer is named by its folder anywhere in a relative path (`../../farmer/announce.ts`).
 */
function forbiddenTo (layer) {
  const others = LAYERS.filter(l => l.name !== layer.name && !layer.may.includes(l.name)).map(l => l.name)
  if (others.length === 0) return []
  const may = layer.may.length === 0 ? 'nothing but itself' : layer.may.join(', ')
  return [{
    group: others.map(name => `**/${name}/**`),
    message: `${layer.name} may import ${may} (layers: core < codec, net, stores < client, farmer, relay < app, cli < bin).`
  }]
}

/**
 * The `no-restricted-imports` blocks of files in `layer`, tests included; `extra` are more
 * patterns for the same files. ESLint replaces a rule's options per file rather than merging them,
 * so a block that narrows a folder inside a layer must build on this, not beside it.
 */
function layerBlocks (layer, files = layer.files, extra = []) {
  const patterns = [...forbiddenTo(layer), ...(layer.name === 'core' ? [CORE_IS_PURE] : []), ...extra]
  const rule = (more) => ({ 'no-restricted-imports': ['error', { patterns: [...patterns, ...more] }] })
  return [
    { files, rules: rule([]) },
    { files, ignores: TESTS, rules: rule([TEST_SUPPORT]) }
  ]
}

// ---- Client-internal rules: the client's own folders (blocks, ops, adapters, ...) go here. ----
// Each entry narrows part of src/client and keeps the client's layer rule, e.g.
//   ...layerBlocks(LAYERS.find(l => l.name === 'client'), ['src/client/blocks/**'],
//     [{ group: ['**/ops/**'], message: 'ops compose blocks, never the reverse.' }]),
const CLIENT_INTERNAL = [
]
// ---- end of client-internal rules ----

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
  ...LAYERS.flatMap(l => layerBlocks(l)),
  ...CLIENT_INTERNAL,
  {
    files: ['src/core/**/*.ts'],
    rules: {
      'no-restricted-globals': ['error', 'window', 'document', 'indexedDB', 'fetch', 'localStorage']
    }
  }
)
