import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Libp2p } from '@libp2p/interface'
import { createNodeLibp2p } from '../net/libp2p.node.ts'
import { createNodeCodecPool } from '../codec/pool.node.ts'
import type { CodecPool } from '../codec/pool.ts'
import { Libp2pTransport, RelayDirectory } from '../client/libp2p-ports.ts'
import { nodeSegmentCipher } from '../client/cipher.node.ts'
import type { SegmentCipher } from '../core/envelope.ts'
import { UsageError } from './args.ts'

/** File `shardfarm grid` writes its relay address to, under its data root. */
export const RELAY_ADDR_FILE = 'relay.addr'

/** Everything a file command talks through; `close()` ends it all. */
export interface ClientSession {
  libp2p: Libp2p
  transport: Libp2pTransport
  directory: RelayDirectory
  coder: CodecPool
  cipher: SegmentCipher
  close: () => Promise<void>
}

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

export async function openSession (relay: string): Promise<ClientSession> {
  // Farmers and the relay are dialled by address and spoken to by protocol id: no identify.
  const libp2p = await createNodeLibp2p({ identify: false })
  const coder = createNodeCodecPool()
  return {
    libp2p,
    coder,
    cipher: nodeSegmentCipher,
    transport: new Libp2pTransport(libp2p),
    directory: new RelayDirectory(libp2p, relay),
    close: async () => { coder.terminate(); await libp2p.stop() }
  }
}
