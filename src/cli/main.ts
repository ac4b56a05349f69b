/**
 * The `shardfarm` command: dispatches to a subcommand. Usage errors exit 2 with the usage text;
 * any other startup failure exits 1 after one structured log line.
 */
import { pathToFileURL } from 'node:url'
import { installNodeSha256 } from '../client/hash.node.ts'
import { exitWhenFlushed } from './lifecycle.ts'
import { createLogger } from './log.ts'

interface Command { run: (argv: string[]) => Promise<void>, usage: string }

type FileCommand = 'putCommand' | 'getCommand' | 'statCommand' | 'rmCommand' | 'lsCommand'
/** A one-shot file command: the process exits as soon as it is done (see `exitWhenFlushed`). */
const file = (fn: FileCommand) => async (): Promise<Command> => {
  const m = await import('./files.ts')
  return {
    run: async argv => {
      await m[fn](argv)
      await exitWhenFlushed()
    },
    usage: m.FILES_USAGE
  }
}

// Loaded on demand: a relay should not load the farmer's store, nor a farmer the upload pipeline.
const COMMANDS: Record<string, () => Promise<Command>> = {
  relay: async () => { const m = await import('./relay.ts'); return { run: m.relayCommand, usage: m.RELAY_USAGE } },
  farmer: async () => { const m = await import('./farmer.ts'); return { run: m.farmerCommand, usage: m.FARMER_USAGE } },
  grid: async () => { const m = await import('./grid.ts'); return { run: m.gridCommand, usage: m.GRID_USAGE } },
  start: async () => { const m = await import('./start.ts'); return { run: m.startCommand, usage: m.START_USAGE } },
  put: file('putCommand'),
  get: file('getCommand'),
  stat: file('statCommand'),
  rm: file('rmCommand'),
  ls: file('lsCommand')
}

/** Runs `shardfarm` with `argv` (without the node and script paths). */
export async function main (argv: string[]): Promise<void> {
  installNodeSha256()
  const [name, ...rest] = argv
  const load = name === undefined ? undefined : COMMANDS[name]
  if (load === undefined) {
    const usages = await Promise.all(Object.values(COMMANDS).map(async l => (await l()).usage))
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
    await cmd.run(rest)
  } catch (err) {
    if ((err as Error).name === 'UsageError') {
      process.stderr.write(`shardfarm ${name}: ${(err as Error).message}\n\n${cmd.usage}\n`)
      process.exit(2)
    }
    createLogger(name ?? 'shardfarm').error('failed to start', { err, stack: (err as Error).stack })
    process.exit(1)
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await main(process.argv.slice(2))
