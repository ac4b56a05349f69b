// Bundles the CLI's file commands (put, get, stat, rm, ls) into `dist-cli/`, which
// `bin/shardfarm.js` runs instead of the TypeScript sources while the bundle is fresh.
//
// Why: from source, every command first spends about 0.8 s loading ~1,000 modules (libp2p's alone
// take 0.33 s) and type-stripping ours; the bundle loads in a few milliseconds. A 1 KB put went
// from 1.74 to 0.91 s wall, and every command saves the same.
//
// The bundle has two entries, the CLI and the codec worker (`pool.node.ts` picks `codec-worker.js`
// beside itself when it is not running from a .ts file), and the codec's wasm modules are copied
// to `dist-cli/wasm/`, where `source.node.ts` looks for them. `stamp.json` lists every source file
// the bundle was built from with its size and mtime, and package-lock.json's, so the launcher can
// tell a stale bundle (see `bin/cli-bundle.js`).
//
// Usage: node scripts/build-cli.ts [--out DIR]   (npm run build:cli; scripts/setup.sh runs it)
import { copyFile, mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises'
import { join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'rolldown'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const outArg = process.argv.indexOf('--out')
const OUT = resolve(outArg >= 0 ? process.argv[outArg + 1]! : join(ROOT, 'dist-cli'))

const t0 = performance.now()
await rm(OUT, { recursive: true, force: true })
const result = await build({
  cwd: ROOT,
  input: { shardfarm: join(ROOT, 'src/cli/main.ts'), 'codec-worker': join(ROOT, 'src/codec/worker.node.ts') },
  platform: 'node',
  // Reached only by `shardfarm start` (vite serves the app), which runs from source.
  external: ['vite'],
  logLevel: 'silent',
  output: { dir: OUT, format: 'esm', entryFileNames: '[name].js', chunkFileNames: 'chunk-[name]-[hash].js' }
})
await mkdir(join(OUT, 'wasm'))
const wasmDir = join(ROOT, 'src/codec/wasm')
const wasm = (await readdir(wasmDir)).filter(f => f.endsWith('.wasm'))
if (wasm.length === 0) throw new Error(`no codec modules in ${wasmDir}`)
await Promise.all(wasm.map(async f => { await copyFile(join(wasmDir, f), join(OUT, 'wasm', f)) }))

// Our own inputs (node_modules changes come with package-lock.json), and the wasm modules.
const ours = new Set<string>()
for (const chunk of result.output) {
  if (chunk.type !== 'chunk') continue
  for (const id of chunk.moduleIds) {
    const rel = relative(ROOT, id)
    if (!rel.startsWith('..') && !rel.includes('node_modules') && !id.startsWith('\0')) ours.add(rel)
  }
}
const inputs = [...ours, 'package-lock.json', ...wasm.map(f => `src/codec/wasm/${f}`)].sort()
const files = await Promise.all(inputs.map(async rel => {
  const s = await stat(join(ROOT, rel))
  return { path: rel, size: s.size, mtimeMs: s.mtimeMs }
}))
await writeFile(join(OUT, 'stamp.json'), JSON.stringify({ builtAt: new Date().toISOString(), files }, null, 1) + '\n')
process.stderr.write(`build-cli: ${relative(process.cwd(), OUT) || '.'} from ${files.length} source files in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`)
