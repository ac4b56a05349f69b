// A relay lists a full farmer only after dialing it back at an address of its record, on a
// connection of its own, and finding that very peer there: a record naming a port where nobody
// listens, or another farmer's address, is refused UNREACHABLE and not listed; the honest farmer is.
// A record its network's new-identity budget refuses anyway is refused before any dial (BUSY).
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Libp2p, PrivateKey } from '@libp2p/interface'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createNodeLibp2p } from '../../src/net/libp2p.node.ts'
import { announceToDirectory, queryDirectory, signFarmerRecord } from '../../src/net/protocols/directory.ts'
import { recordOf, startTestDirectory, type TestDirectory } from '../support/test-directory.ts'

let dir: TestDirectory
const nodes: Array<{ node: Libp2p, key: PrivateKey }> = []
async function node (listen: boolean): Promise<{ node: Libp2p, key: PrivateKey }> {
  const key = await generateKeyPair('Ed25519')
  const n = { node: await createNodeLibp2p({ privateKey: key, ...(listen ? { listen: ['/ip4/127.0.0.1/tcp/0/ws'] } : {}) }), key }
  nodes.push(n)
  return n
}
const listed = async (): Promise<string[]> => (await queryDirectory(nodes[0]!.node, dir.addr)).map(l => l.peerId)

beforeAll(async () => { dir = await startTestDirectory(30_000, { dialBack: true }) })
afterAll(async () => {
  await Promise.all(nodes.map(async n => { await n.node.stop() }))
  await dir?.stop()
})

describe('dial-back before listing', () => {
  it('lists a farmer found at the address it announced', async () => {
    const honest = await node(true)
    const addr = honest.node.getMultiaddrs()[0]!.decapsulateCode(421).toString() // without /p2p/
    await announceToDirectory(honest.node, dir.addr, await signFarmerRecord(honest.key, recordOf(honest, { addrs: [addr] })))
    expect(await listed()).toContain(honest.node.peerId.toString())
  })

  it('refuses a record whose address answers nobody', async () => {
    const liar = await node(false)
    const err = await announceToDirectory(liar.node, dir.addr, await signFarmerRecord(liar.key, recordOf(liar, { addrs: ['/ip4/127.0.0.1/tcp/9/ws'] }))).catch((e: unknown) => e)
    expect(err).toMatchObject({ name: 'DirectoryError', code: 'UNREACHABLE' })
    expect(await listed()).not.toContain(liar.node.peerId.toString())
  })

  it('refuses a record naming another farmer\'s address', async () => {
    const honest = nodes[0]!
    const squatter = await node(false)
    const theirs = honest.node.getMultiaddrs()[0]!.decapsulateCode(421).toString()
    const err = await announceToDirectory(squatter.node, dir.addr, await signFarmerRecord(squatter.key, recordOf(squatter, { addrs: [theirs] }))).catch((e: unknown) => e)
    expect(err).toMatchObject({ name: 'DirectoryError', code: 'UNREACHABLE' })
    expect(await listed()).not.toContain(squatter.node.peerId.toString())
  })

  it('refuses a new identity over its network\'s budget without dialing it (BUSY, not UNREACHABLE)', async () => {
    const capped = await startTestDirectory(30_000, { dialBack: true, store: { subnetNewPeers: { max: 1, windowMs: 60_000 } } })
    try {
      const first = await node(true)
      const addr = first.node.getMultiaddrs()[0]!.decapsulateCode(421).toString()
      await announceToDirectory(first.node, capped.addr, await signFarmerRecord(first.key, recordOf(first, { addrs: [addr] })))
      const second = await node(false)
      const err = await announceToDirectory(second.node, capped.addr, await signFarmerRecord(second.key, recordOf(second, { addrs: ['/ip4/127.0.0.1/tcp/9/ws'] }))).catch((e: unknown) => e)
      expect(err).toMatchObject({ name: 'DirectoryError', code: 'BUSY' })
    } finally {
      await capped.stop()
    }
  })
})
