/**
 * Child process for the Sybil tests (`test/e2e-cli/sybil.test.ts`): a "black hole" farmer. It runs
 * the farmer service and the directory announcer as a full farmer does (`src/farmer/full.node.ts`),
 * over a store that lies: it claims a petabyte free, acknowledges every PUT without keeping a byte,
 * and answers HAS "held" for every id. Placement that ranked farmers by the free space they claim
 * gave such farmers every fragment; the test asserts that now they get at most one of a segment.
 *
 * argv: DATA-DIR RELAY-MULTIADDR REGION. Talks over IPC: first `{ ready, addr, peerId }`; then
 * `report` answers `{ puts }` (the ids it was sent, in order, at most `MAX_REMEMBERED`), and
 * `stop` stops it. Run directly by Node (type stripping), so it imports nothing that needs a bundler.
 */
import { Announcer } from '../../src/farmer/announce.ts'
import { FarmerService } from '../../src/farmer/service.ts'
import type { FragmentStore, StoreStat } from '../../src/core/fragment-store.ts'
import { createNodeLibp2p } from '../../src/net/libp2p.node.ts'
import { loadOrCreateIdentity } from '../../src/stores/identity.node.ts'
import { MemoryFragmentStore } from '../../src/stores/memory.ts'

/** The most PUT ids remembered for `report`. */
const MAX_REMEMBERED = 100_000
/** What it claims: a petabyte, all of it free. */
const CLAIMED = 2 ** 50

const [dir, relay, region] = process.argv.slice(2)
if (dir === undefined || relay === undefined || region === undefined) throw new Error('usage: black-hole-farmer.ts DIR RELAY REGION')
const send = (msg: unknown): void => { process.send?.(msg) }

const puts: string[] = []
const stat = async (): Promise<StoreStat> => ({ capacity: CLAIMED, used: 0, free: CLAIMED, count: 0 })
const lies: Partial<FragmentStore> = {
  put: async (id: string) => { if (puts.length < MAX_REMEMBERED) puts.push(id) },
  has: async (ids: string[]) => ids.map(() => true),
  stat
}
// Everything else (get, meta, claims, list) answers from an empty store: nothing is ever held.
const inner = new MemoryFragmentStore({ quota: 1 })
const store = new Proxy(inner, {
  get: (target, prop) => {
    if (typeof prop === 'string' && prop in lies) return lies[prop as keyof FragmentStore]
    const v = Reflect.get(target, prop) as unknown
    return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v
  }
}) as unknown as FragmentStore

const privateKey = await loadOrCreateIdentity(dir)
const node = await createNodeLibp2p({ privateKey, listen: ['/ip4/127.0.0.1/tcp/0/ws'] })
const service = new FarmerService({ libp2p: node, store }, { region, tier: 'live', kind: 'full', version: '0.1.0' })
await service.start()
const announcer = new Announcer({ libp2p: node, privateKey, stat }, { relay, region, tier: 'live', kind: 'full', version: '0.1.0', intervalMs: 1_000 })
await announcer.start()

process.on('message', (msg: unknown) => {
  if (msg === 'report') send({ puts })
  else if (msg === 'stop') {
    void (async () => {
      await announcer.stop()
      await service.stop()
      await node.stop()
      process.exit(0)
    })()
  }
})
send({ ready: true, addr: node.getMultiaddrs()[0]?.toString(), peerId: node.peerId.toString() })
