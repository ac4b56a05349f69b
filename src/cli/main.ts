/**
 * The `shardfarm` command: every subcommand, from source (see `dispatch.ts`; the file commands also
 * run from the bundle built from `file-main.ts`).
 */
import { pathToFileURL } from 'node:url'
import { dispatch, FILE_COMMANDS, oneShot } from './dispatch.ts'
import type { CommandTable } from './dispatch.ts'

// Loaded on demand: a relay should not load the farmer's store, nor a farmer the upload pipeline.
const COMMANDS: CommandTable = {
  relay: async () => { const m = await import('./relay.ts'); return { run: m.relayCommand, usage: m.RELAY_USAGE } },
  farmer: async () => { const m = await import('./farmer.ts'); return { run: m.farmerCommand, usage: m.FARMER_USAGE } },
  farmers: oneShot(async () => { const m = await import('./farmers-list.ts'); return { run: m.farmersCommand, usage: m.FARMERS_USAGE } }),
  grid: async () => { const m = await import('./grid.ts'); return { run: m.gridCommand, usage: m.GRID_USAGE } },
  start: async () => { const m = await import('./start.ts'); return { run: m.startCommand, usage: m.START_USAGE } },
  keeper: async () => { const m = await import('./keeper.ts'); return { run: m.keeperCommand, usage: m.KEEPER_USAGE } },
  keep: oneShot(async () => { const m = await import('./keeper.ts'); return { run: m.keepCommand, usage: m.KEEPER_USAGE } }),
  ...FILE_COMMANDS
}

/** Runs `shardfarm` with `argv` (without the node and script paths). */
export async function main (argv: string[]): Promise<void> {
  await dispatch(COMMANDS, argv)
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await main(process.argv.slice(2))
