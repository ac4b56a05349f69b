import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { UsageError } from './args.ts'

/** File `shardfarm grid` writes its relay address to, under its data root. */
export const RELAY_ADDR_FILE = 'relay.addr'

/**
 * The relay to use: `--relay`, else `SHARDFARM_RELAY`, else the address the local `shardfarm grid`
 * left in `./.shardfarm/relay.addr`.
 */
export async function resolveRelay (flag: string | undefined): Promise<string> {
  const given = flag ?? process.env.SHARDFARM_RELAY
  if (given !== undefined && given !== '') return given
  const file = join(process.env.SHARDFARM_GRID ?? '.shardfarm', RELAY_ADDR_FILE)
  try {
    return (await readFile(file, 'utf8')).trim()
  } catch {
    throw new UsageError(`no grid found (${file} is missing): start one with \`npm start\` or \`shardfarm grid\`, or pass --relay MULTIADDR`)
  }
}
