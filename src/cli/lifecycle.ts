/**
 * How every long-running `shardfarm` process ends: on SIGINT or SIGTERM it runs its `stop()` once
 * and exits 0; a second signal, or a stop that hangs past `graceMs`, exits at once with 1. When the
 * process was spawned with an IPC channel (as `grid` and the tests do), the channel closing means
 * the parent died, even by SIGKILL, so the child stops too instead of lingering as an orphan.
 */
import type { Logger } from '../core/logger.ts'

/** How long a clean stop may take before the process exits anyway. */
export const STOP_GRACE_MS = 10_000

/** Installs the signal and parent-death handlers that call `stop` once, then exit. */
export function stopOnSignals (stop: () => Promise<void>, log: Logger, graceMs = STOP_GRACE_MS): void {
  let stopping = false
  const shutdown = (reason: string): void => {
    if (stopping) {
      log.warn('forced exit', { reason })
      process.exit(1)
    }
    stopping = true
    log.info('stopping', { reason })
    setTimeout(() => {
      log.error('stop timed out, exiting', { graceMs })
      process.exit(1)
    }, graceMs).unref()
    stop().then(() => {
      log.info('stopped')
      process.exit(0)
    }, (err: unknown) => {
      log.error('stop failed', { err })
      process.exit(1)
    })
  }
  process.on('SIGINT', () => { shutdown('SIGINT') })
  process.on('SIGTERM', () => { shutdown('SIGTERM') })
  if (process.channel !== undefined) {
    process.on('disconnect', () => { shutdown('parent gone') })
    // The channel alone must not keep an otherwise finished process alive.
    process.channel.unref()
  }
}

/** Writes the one machine-readable stdout line (a multiaddr) other programs wait for. */
export function printAddress (addr: string): void {
  process.stdout.write(addr + '\n')
}

/** How long a one-shot command (put, get, …) may take to close its connections once its work is done. */
export const CLOSE_GRACE_MS = 5_000

/**
 * Resolves true when `p` settles within `ms`, false otherwise (its outcome is then ignored). For
 * cleanup that must not hold a finished command hostage, such as a libp2p node whose stop waits on
 * a peer that never answers.
 */
export async function settlesWithin (p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const late = new Promise<false>(resolve => { timer = setTimeout(() => { resolve(false) }, ms) })
  try {
    return await Promise.race([p.then(() => true, () => true), late])
  } finally {
    clearTimeout(timer)
  }
}

/**
 * Ends a one-shot command's process once stdout and stderr have taken everything written to them.
 * By then the work is done and libp2p has stopped, but its WebSockets still wait on closing
 * handshakes: a 1 GiB get held the shell for 7–9 s more (seven TCP sockets still open 3 s after
 * `stop()` returned), which the user sees as a command that has finished but does not return.
 */
export async function exitWhenFlushed (): Promise<never> {
  await Promise.all([process.stdout, process.stderr].map(async s => await new Promise<void>(resolve => {
    if (s.destroyed || s.writableEnded) resolve()
    else s.write('', () => { resolve() })
  })))
  process.exit(process.exitCode ?? 0)
}
