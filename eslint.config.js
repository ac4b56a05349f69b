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
  { name: 'keeper', files: ['src/keeper/**'], may: ['core', 'codec', 'net', 'stores', 'client'] },
  { name: 'app', files: ['src/app/**'], may: ['core', 'codec', 'net', 'stores', 'client', 'farmer'] },
  { name: 'cli', files: ['src/cli/**'], may: ['core', 'codec', 'net', 'stores', 'client', 'farmer', 'relay', 'keeper'] },
  { name: 'bin', files: ['bin/**'], may: ['core', 'codec', 'net', 'stores', 'client', 'farmer', 'relay', 'app', 'cli', 'keeper'] }
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
    message: `${layer.name} may import ${may} (layers: core < codec, net, stores < client, farmer, relay < keeper < app, cli < bin).`
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

// ---- Client-internal rules ----
// Inside src/client, bottom to top:
//   ports, score-book, errors, job-store  <  blocks (building blocks), adapters
//   (technology)  <  ops (what a person does: upload, download, stat, repair, delete)  <
//   session.node / session.browser (wiring)
// Operations are platform-free: they take ports and never reach for an adapter or a wiring file.
// Tests may reach across (an ops test wires Node's cipher in), so these apply to shipped code only.
const CLIENT = LAYERS.find(l => l.name === 'client')
const WIRING = { group: ['**/session.node*', '**/session.browser*'], message: 'only the platform wiring assembles the client; import the port instead.' }
const OPS = { group: ['**/ops/**'], message: 'operations compose building blocks, never the reverse.' }
const BLOCKS = { group: ['**/blocks/**'], message: 'the client base (ports, errors, job store) and adapters sit below the building blocks.' }
const ADAPTERS = { group: ['**/adapters/**'], message: 'operations and building blocks take ports; only the wiring picks an adapter.' }
const clientInternal = (files, extra) => layerBlocks(CLIENT, files, extra)[1]
const CLIENT_INTERNAL = [
  clientInternal(['src/client/*.ts'], [OPS, BLOCKS, ADAPTERS]),
  clientInternal(['src/client/adapters/**'], [WIRING, OPS, BLOCKS]),
  clientInternal(['src/client/blocks/**'], [WIRING, OPS, ADAPTERS]),
  clientInternal(['src/client/ops/**'], [WIRING, ADAPTERS]),
  // The wiring files themselves may import anything of the client.
  clientInternal(['src/client/session.*.ts'], [])
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
