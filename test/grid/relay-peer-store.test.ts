// The relay forgets a client's peer record when its last connection closes: under churn of fresh
// client identities (every CLI command is one) its peer store, and so its memory, stays bounded.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startRelay, type Relay } from '../../relay/main.ts'
import { createNodeLibp2p } from '../../src/net/libp2p.node.ts'
import { queryDirectory } from '../../src/net/protocols/directory.ts'

const quiet = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {}, child: () => quiet }
let dir: string
let relay: Relay

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'relay-peers-'))
  relay = await startRelay({ dataDir: dir, vettingPeriodMs: 0, sharedSubnets: true, log: quiet as never })
})
afterAll(async () => {
  await relay.stop()
  await rm(dir, { recursive: true, force: true })
})

describe('the relay under client churn', () => {
  it('keeps no peer record of clients that have gone', async () => {
    const clients = 24
    for (let i = 0; i < clients; i += 6) {
      await Promise.all(Array.from({ length: 6 }, async () => {
        const node = await createNodeLibp2p()
        try {
          await queryDirectory(node, multiaddr(relay.addr), {}, { signal: AbortSignal.timeout(10_000) })
        } finally {
          await node.stop()
        }
      }))
    }
    // Closing is asynchronous on the relay's side: wait for the last connections to go.
    const deadline = Date.now() + 10_000
    while (relay.libp2p.getConnections().length > 0 && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 100))
    await new Promise(resolve => setTimeout(resolve, 200))
    const kept = (await relay.libp2p.peerStore.all()).length
    expect(kept).toBeLessThanOrEqual(1)
  })
})
