#!/usr/bin/env node
// Launcher for the `shardfarm` command. The CLI is TypeScript run directly by Node 22's type
// stripping; on an older Node (libp2p 3 needs 22) it re-runs itself with the Node 22 that the
// `node` devDependency installs, forwarding arguments, stdio and signals. The file commands run
// from the bundle in dist-cli/ while it is fresh (see cli-bundle.js), which starts 0.8 s sooner.
import { spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { BUNDLED_COMMANDS, freshBundle } from './cli-bundle.js'

// Memory and GC tuning (see src/cli/tuning.ts), applied by replacing this process with itself (same
// pid, stdio and arguments) before anything else loads, because it is read only at process start.
const major = Number(process.versions.node.split('.')[0])
if (major >= 22) {
  if (process.env.SHARDFARM_TUNED === undefined && typeof process.execve === 'function') {
    const tuning = JSON.parse(readFileSync(new URL('../src/cli/tuning.json', import.meta.url), 'utf8'))
    const self = fileURLToPath(import.meta.url)
    process.execve(process.execPath, [process.execPath, ...tuning.flags, ...process.execArgv, self, ...process.argv.slice(2)], { ...process.env, ...tuning.env })
  }
  const argv = process.argv.slice(2)
  // SHARDFARM_FROM_SOURCE=1 always runs the sources; SHARDFARM_WHICH=1 says on stderr which ran;
  // SHARDFARM_CLI_BUNDLE=DIR looks for the bundle in DIR instead of dist-cli/ (tests).
  const on = (name) => { const v = process.env[name]; return v !== undefined && v !== '' && v !== '0' }
  const say = (line) => { if (on('SHARDFARM_WHICH')) process.stderr.write(`shardfarm: ${line}\n`) }
  let bundle
  if (!BUNDLED_COMMANDS.has(argv[0])) say(`running from source: ${argv[0] ?? 'usage'} is not bundled`)
  else if (on('SHARDFARM_FROM_SOURCE')) say('running from source: SHARDFARM_FROM_SOURCE is set')
  else bundle = freshBundle(fileURLToPath(new URL('..', import.meta.url)), process.env.SHARDFARM_CLI_BUNDLE || undefined, why => say(`running from source: ${why}`))
  let main
  if (bundle !== undefined) {
    try {
      main = (await import(pathToFileURL(bundle).href)).main
      say(`running the bundle ${bundle}`)
    } catch (err) {
      // A bundle that does not load (half-deleted, built by another Node) must not stop the command.
      process.stderr.write(`shardfarm: the bundle ${bundle} did not load (${err.message}); running from source\n`)
    }
  }
  main ??= (await import('../src/cli/main.ts')).main
  await main(argv)
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
