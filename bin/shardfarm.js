#!/usr/bin/env node
// Launcher for the `shardfarm` command. The CLI is TypeScript run directly by Node 22's type
// stripping; on an older Node (libp2p 3 needs 22) it re-runs itself with the Node 22 that the
// `node` devDependency installs, forwarding arguments, stdio and signals.
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

// Memory tuning, applied by replacing this process with itself (same pid, stdio and arguments)
// before anything loads, because both settings are read only at process start:
// - MALLOC_ARENA_MAX=2: glibc gives every thread that allocates (libuv's pool hashing and
//   encrypting, the codec worker) its own arena, and freed segment buffers stay mapped in each.
// - --max-semi-space-size=1 (MiB): V8's young generation otherwise grows to 3 × 16 MiB; our bytes
//   live outside the JS heap, so a small one costs no speed here.
// - --initial-old-space-size=64 (MiB): with a live JS heap of only ~18 MiB, V8 otherwise starts a
//   full (mark-compact) collection after every ~2 MiB promoted: 45–62 of them in a 256 MiB put,
//   costing about a third of the CLI's CPU (mostly on V8's helper threads). Finished segments are
//   freed explicitly (`releaseBytes`), so the extra garbage no longer keeps them resident.
// Measured on `put` and `get` of 512 MiB (RS(10,4), 14 farmers): peak RSS 401/421 → 303/315 MiB,
// times unchanged within noise; then with the old-space floor, on 256 MiB: CLI CPU put −15 %,
// get −35 %, get 25–35 % faster. SHARDFARM_TUNED marks the tuned process (and says "skip" if set).
const TUNED_ENV = { MALLOC_ARENA_MAX: '2', SHARDFARM_TUNED: '1' }
const TUNED_FLAGS = ['--max-semi-space-size=1', '--initial-old-space-size=64']

const major = Number(process.versions.node.split('.')[0])
if (major >= 22) {
  if (process.env.SHARDFARM_TUNED === undefined && typeof process.execve === 'function') {
    const self = fileURLToPath(import.meta.url)
    process.execve(process.execPath, [process.execPath, ...TUNED_FLAGS, ...process.execArgv, self, ...process.argv.slice(2)], { ...process.env, ...TUNED_ENV })
  }
  const { main } = await import('../src/cli/main.ts')
  await main(process.argv.slice(2))
} else {
  const node22 = fileURLToPath(new URL('../node_modules/node/bin/node', import.meta.url))
  if (!existsSync(node22)) {
    process.stderr.write(`shardfarm needs Node >= 22 (this is ${process.version}); run npm install or put Node 22 on PATH\n`)
    process.exit(1)
  }
  const child = spawn(node22, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' })
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig))
  child.on('exit', (code, signal) => { process.exit(code ?? (signal === null ? 1 : 128)) })
}
