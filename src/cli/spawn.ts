/**
 * Starts `shardfarm` subcommands as child processes and waits for the one stdout line each prints
 * (its multiaddr). Used by `grid`, the multi-process tests and the network benchmark, so all three
 * run the real command line. Children get an IPC channel: when this process dies, even by SIGKILL,
 * the channel closes and they stop themselves (see `lifecycle.ts`).
 */
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { TUNED_ENV, TUNED_FLAGS } from './tuning.ts'

/** The CLI entry point the children run. */
export const MAIN_TS = fileURLToPath(new URL('./main.ts', import.meta.url))
/** Time a child may take to print its address. */
export const READY_TIMEOUT_MS = 30_000

/** A started child and the address it printed. */
export interface ShardfarmChild {
  child: ChildProcess
  pid: number
  addr: string
  /** Resolves with the exit code (or signal name) when the child ends. */
  exited: Promise<number | string>
}

/** Options of `spawnShardfarm`. */
export interface SpawnInit {
  /** `SHARDFARM_PROC` of the child: the `proc` field of its log lines. */
  name: string
  /** Where the child's stderr (its JSON logs) goes. @default 'inherit' */
  stderr?: 'inherit' | 'ignore' | 'pipe'
  /** With `stderr: 'pipe'`, receives each log line (the pipe is always drained). */
  onStderr?: (line: string) => void
  /** Extra environment. */
  env?: Record<string, string>
  /** @default READY_TIMEOUT_MS */
  readyTimeoutMs?: number
}

/** Spawns `node main.ts ...args`, tuned like the CLI (`tuning.ts`), and resolves once it printed its address line. */
export async function spawnShardfarm (args: string[], init: SpawnInit): Promise<ShardfarmChild> {
  const child = spawn(process.execPath, [...TUNED_FLAGS, MAIN_TS, ...args], {
    stdio: ['ignore', 'pipe', init.stderr ?? 'inherit', 'ipc'],
    // Own process group: a terminal's Ctrl-C reaches only the parent, which stops children in order.
    detached: true,
    env: { ...process.env, ...TUNED_ENV, SHARDFARM_PROC: init.name, ...init.env }
  })
  // The channel is only a death signal for the child; it must not keep this process alive.
  child.channel?.unref()
  const exited = new Promise<number | string>(resolve => child.once('exit', (code, signal) => { resolve(code ?? signal ?? -1) }))
  if (child.stderr !== null) {
    createInterface({ input: child.stderr }).on('line', line => init.onStderr?.(line))
  }
  const lines = createInterface({ input: child.stdout! })
  try {
    const addr = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => { reject(new Error(`${init.name} printed no address within ${init.readyTimeoutMs ?? READY_TIMEOUT_MS} ms`)) }, init.readyTimeoutMs ?? READY_TIMEOUT_MS)
      lines.once('line', line => { clearTimeout(timer); resolve(line.trim()) })
      void exited.then(code => { clearTimeout(timer); reject(new Error(`${init.name} exited (${code}) before printing its address`)) })
    })
    return { child, pid: child.pid!, addr, exited }
  } catch (err) {
    child.kill('SIGKILL')
    throw err
  } finally {
    lines.close()
    child.stdout!.resume() // discard anything printed later, so the pipe never fills
  }
}

/** Sends SIGTERM, waits up to `graceMs` for the exit, then SIGKILLs. Resolves with the exit result. */
export async function stopChild (c: ShardfarmChild, graceMs = 10_000): Promise<number | string> {
  if (c.child.exitCode !== null || c.child.signalCode !== null) return await c.exited
  c.child.kill('SIGTERM')
  const timer = setTimeout(() => c.child.kill('SIGKILL'), graceMs)
  try { return await c.exited } finally { clearTimeout(timer) }
}
