/**
 * Child process for the memory tests in `src/farmer/hostile.test.ts`: a farmer (libp2p on
 * 127.0.0.1 plus `FarmerService`) over a disk store in argv[2], holding fragments of the sizes in
 * argv[3] (MiB, comma-separated), with the service options of argv[4] (JSON). Run it with
 * `--expose-gc`, so its resident memory can be measured honestly, apart from the test's.
 *
 * Talks over IPC: first `{ ready, addr, ids }`; then `mark` starts a measurement (after a GC) and
 * `report` answers `{ baseline, peak, rss, metrics }`, in bytes, peak sampled every 20 ms.
 *
 * Run directly by Node (type stripping), so it imports nothing that needs a bundler or vitest.
 */
import { createHash, randomBytes } from 'node:crypto'
import { FarmerService } from '../../src/farmer/service.ts'
import { createNodeLibp2p } from '../../src/net/libp2p.node.ts'
import { FsFragmentStore } from '../../src/stores/fs.ts'

const [dir, sizesArg, initArg] = process.argv.slice(2)
if (dir === undefined || sizesArg === undefined) throw new Error('usage: farmer-process.ts DIR MIB,MIB,… [INIT-JSON]')
const send = (msg: unknown): void => { process.send?.(msg) }
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {})

const store = await FsFragmentStore.open(dir, { quota: 4 * 1024 ** 3 })
const ids: string[] = []
for (const mib of sizesArg.split(',').map(Number)) {
  const bytes = new Uint8Array(randomBytes(mib * 1024 * 1024))
  const id = createHash('sha256').update(bytes).digest('hex')
  await store.put(id, bytes, { claims: [{ owner: Buffer.alloc(32, 1).toString('base64'), peer: 'fixture', expiresAt: Number.MAX_SAFE_INTEGER }] })
  ids.push(id)
}

const node = await createNodeLibp2p({ listen: ['/ip4/127.0.0.1/tcp/0/ws'] })
const service = new FarmerService({ libp2p: node, store },
  { region: 'eu-west', tier: 'live', kind: 'full', version: '0.1.0', ...(JSON.parse(initArg ?? '{}') as object) })
await service.start()

let baseline = 0
let peak = 0
setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss) }, 20).unref()

process.on('message', (msg: unknown) => {
  if (msg === 'mark') {
    gc()
    baseline = process.memoryUsage().rss
    peak = baseline
    send({ marked: baseline })
  } else if (msg === 'report') {
    const rss = process.memoryUsage().rss
    peak = Math.max(peak, rss)
    send({ baseline, peak, rss, metrics: service.metrics.snapshot() })
  } else if (msg === 'stop') {
    void (async () => {
      await service.stop()
      await node.stop()
      await store.close()
      process.exit(0)
    })()
  }
})
gc()
send({ ready: true, addr: node.getMultiaddrs()[0]?.toString(), ids })
