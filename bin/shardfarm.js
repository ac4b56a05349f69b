#!/usr/bin/env node
// Launcher for the `shardfarm` command. The CLI is TypeScript run directly by Node 22's type
// stripping; on an older Node (libp2p 3 needs 22) it re-runs itself with the Node 22 that the
// `node` devDependency installs, forwarding arguments, stdio and signals.
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

// Memory and GC tuning (see src/cli/tuning.ts), applied by replacing this process with itself (same
// pid, stdio and arguments) before anything else loads, because it is read only at process start.
const major = Number(process.versions.node.split('.')[0])
if (major >= 22) {
  if (process.env.SHARDFARM_TUNED === undefined && typeof process.execve === 'function') {
    const { TUNED_ENV, TUNED_FLAGS } = await import('../src/cli/tuning.ts')
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
