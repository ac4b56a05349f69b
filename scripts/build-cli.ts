// Bundles the CLI's file commands (put, get, stat, rm, ls; entry `src/cli/file-main.ts`) into
// `dist-cli/`, which
// `bin/shardfarm.js` runs instead of the TypeScript sources while the bundle is fresh.
//
// Why: from source, every command first spends about 0.8 s loading ~1,000 modules (libp2p's alone
// take 0.33 s) and type-stripping ours; the bundle loads in a few milliseconds. A 1 KB put went
// from 1.74 to 0.91 s wall, and every command saves the same.
//
// The bundle has two entries, the file commands and the codec worker (`pool.node.ts` picks `codec-worker.js`
// beside itself when it is not running from a .ts file), and the codec's wasm modules are copied
// to `dist-cli/wasm/`, where `source.node.ts` looks for them. `stamp.json` lists every source file
// the bundle was built from with its size and mtime, and those of package-lock.json and this
// script, so the launcher can tell a stale bundle (see `bin/cli-bundle.js`).
//
// Usage: node scripts/build-cli.ts [--out DIR]   (npm run build:cli; scripts/setup.sh runs it)
import { copyFile, mkdir, readdir, rename, rm, stat, writeFile } from 'node:fs/promises'
import { join, relative, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'rolldown'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const outArg = process.argv.indexOf('--out')
const OUT = resolve(outArg >= 0 ? process.argv[outArg + 1]! : join(ROOT, 'dist-cli'))
// Never delete the repository (or a directory holding it), nor a directory that is not a bundle.
if (OUT === ROOT || (ROOT + sep).startsWith(OUT + sep)) throw new Error(`build-cli: --out ${OUT} would replace the repository`)
const previous = await readdir(OUT).catch(() => undefined)
if (previous !== undefined && previous.length > 0 && !previous.includes('stamp.json')) {
  throw new Error(`build-cli: ${OUT} is not empty and holds no stamp.json: not a bundle, left alone`)
}

const started = Date.now()
// Built beside the old bundle and swapped in at the end, so a command running from the old one
// does not see half a bundle.
const TMP = `${OUT}.building-${process.pid}`
await rm(TMP, { recursive: true, force: true })
const result = await build({
  cwd: ROOT,
  input: { shardfarm: join(ROOT, 'src/cli/file-main.ts'), 'codec-worker': join(ROOT, 'src/codec/worker.node.ts') },
  platform: 'node',
  // ws loads these optional native helpers with require() relative to itself, which a bundle
  // cannot do: left to node_modules, they load as they do from the sources.
  external: ['bufferutil', 'utf-8-validate'],
  logLevel: 'silent',
  output: { dir: TMP, format: 'esm', entryFileNames: '[name].js', chunkFileNames: 'chunk-[name]-[hash].js' }
})
await mkdir(join(TMP, 'wasm'))
const wasmDir = join(ROOT, 'src/codec/wasm')
const wasm = (await readdir(wasmDir)).filter(f => f.endsWith('.wasm'))
if (wasm.length === 0) throw new Error(`no codec modules in ${wasmDir}`)
await Promise.all(wasm.map(async f => { await copyFile(join(wasmDir, f), join(TMP, 'wasm', f)) }))

// Our own inputs (node_modules changes come with package-lock.json), and the wasm modules.
const ours = new Set<string>()
for (const chunk of result.output) {
  if (chunk.type !== 'chunk') continue
  for (const id of chunk.moduleIds) {
    const rel = relative(ROOT, id)
    if (!rel.startsWith('..') && !rel.includes('node_modules') && !id.startsWith('\0')) ours.add(rel)
  }
}
const inputs = [...ours, 'package-lock.json', 'scripts/build-cli.ts', ...wasm.map(f => `src/codec/wasm/${f}`)].sort()
const files = await Promise.all(inputs.map(async rel => {
  const s = await stat(join(ROOT, rel))
  return { path: rel, size: s.size, mtimeMs: s.mtimeMs }
}))
// A source saved while rolldown read it would be stamped as built: refuse, and leave the old bundle.
const changed = files.filter(f => f.mtimeMs >= started)
if (changed.length > 0) {
  await rm(TMP, { recursive: true, force: true })
  throw new Error(`build-cli: ${changed.map(f => f.path).join(', ')} changed during the build; run it again`)
}
await writeFile(join(TMP, 'stamp.json'), JSON.stringify({ builtAt: new Date(started).toISOString(), files }, null, 1) + '\n')
const OLD = `${OUT}.old-${process.pid}`
if (previous !== undefined) await rename(OUT, OLD)
await rename(TMP, OUT)
await rm(OLD, { recursive: true, force: true })
process.stderr.write(`build-cli: ${relative(process.cwd(), OUT) || '.'} from ${files.length} source files in ${((Date.now() - started) / 1000).toFixed(1)} s\n`)
