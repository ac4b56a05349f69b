/**
 * Running one `shardfarm` subcommand out of a table: usage errors exit 2 with the usage text; any
 * other startup failure exits with its status from the error catalogue (1 for most) after one
 * structured log line. `main.ts` dispatches over every
 * command, `file-main.ts` (the bundled CLI's entry) over the file commands only.
 */
import { installNodeEngines } from '../client/adapters/hash.node.ts'
import { exitCodeOf } from '../core/error-catalogue.ts'
import { exitWhenFlushed } from './lifecycle.ts'
import { createLogger } from './log.ts'
import { takeRelayFlags } from './relay-address.ts'

export interface Command { run: (argv: string[]) => Promise<void>, usage: string }

/** Subcommands by name, each loaded on demand. */
export type CommandTable = Record<string, () => Promise<Command>>

/** A one-shot command: the process exits as soon as it is done (see `exitWhenFlushed`). */
export function oneShot (load: () => Promise<Command>): () => Promise<Command> {
  return async () => {
    const { run, usage } = await load()
    return { run: async argv => { await run(argv); await exitWhenFlushed() }, usage }
  }
}

type FileCommand = 'putCommand' | 'getCommand' | 'statCommand' | 'rmCommand' | 'repairCommand' | 'renewCommand' | 'lsCommand'
const file = (fn: FileCommand): () => Promise<Command> =>
  oneShot(async () => { const m = await import('./files.ts'); return { run: m[fn], usage: m.FILES_USAGE } })
/** `check` and `link`, from `check.ts`. */
const checks = (fn: 'checkCommand' | 'linkCommand'): () => Promise<Command> =>
  oneShot(async () => { const m = await import('./check.ts'); return { run: m[fn], usage: m.CHECK_USAGE } })

export const FILE_COMMANDS: CommandTable = {
  put: file('putCommand'),
  get: file('getCommand'),
  stat: file('statCommand'),
  rm: file('rmCommand'),
  repair: file('repairCommand'),
  renew: file('renewCommand'),
  ls: file('lsCommand'),
  check: checks('checkCommand'),
  link: checks('linkCommand')
}

/** Runs `argv` (a subcommand and its arguments) with `commands`. */
export async function dispatch (commands: CommandTable, argv: string[]): Promise<void> {
  installNodeEngines()
  const [name, ...rest] = argv
  const load = name === undefined ? undefined : commands[name]
  if (load === undefined) {
    const usages = await Promise.all(Object.values(commands).map(async l => (await l()).usage))
    process.stderr.write(`usage: shardfarm <command> [options]\n\n${[...new Set(usages)].join('\n\n')}\n`)
    process.exitCode = name === undefined || name === '--help' || name === '-h' ? 0 : 2
    return
  }
  const cmd = await load()
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stderr.write(cmd.usage + '\n')
    return
  }
  try {
    takeRelayFlags(rest) // `--relay` is repeatable on every command that takes one
    await cmd.run(rest)
  } catch (err) {
    if ((err as Error).name === 'UsageError') {
      process.stderr.write(`shardfarm ${name}: ${(err as Error).message}\n\n${cmd.usage}\n`)
      process.exit(2)
    }
    createLogger(name ?? 'shardfarm').error('failed to start', { err, stack: (err as Error).stack })
    process.exit(exitCodeOf(err))
  }
}
