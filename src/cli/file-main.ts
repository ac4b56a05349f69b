/**
 * Entry of the bundled CLI (`scripts/build-cli.ts`): the file commands only (put, get, stat, rm,
 * ls), so that the bundle holds none of the farmer, relay or grid code, which find files and spawn
 * processes by paths relative to the sources.
 */
import { dispatch, FILE_COMMANDS } from './dispatch.ts'

/** Runs a file command with `argv` (without the node and script paths). */
export async function main (argv: string[]): Promise<void> {
  await dispatch(FILE_COMMANDS, argv)
}
