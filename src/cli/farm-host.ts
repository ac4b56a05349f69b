/**
 * `shardfarm farmer --data ROOT --count N [...]`: several full farmers in one process, each its own
 * identity, store folder (`ROOT/farmer-<i>`), libp2p node and port, for a local grid on one small
 * machine. A Node process idles at about 110 MiB whatever it runs (V8, libp2p's modules, the
 * allocator), and a farmer's own share of that is small: one process hosting seven farmers takes
 * about a third of seven processes (figures in docs/performance.md). The farmers share a CPU and
 * fail together, which is what a single-host grid does anyway; real farmers run one per process
 * (`shardfarm farmer`). Prints one stdout line: the farmers' multiaddrs, space-separated.
 */
import { startFarmer, type FarmerProcess } from '../farmer/full.node.ts'
import { parseCount, parseFlags, parseHost, parseHostPort, parseSize, readTlsFlags, UsageError, wsListenAddr } from './args.ts'
import { GRID_REGIONS, MAX_HOSTED } from './grid.ts'
import { printAddress, stopOnSignals } from './lifecycle.ts'
import { farmerRelays } from './relay-address.ts'
import { createLogger } from './log.ts'

export const FARM_HOST_USAGE = `shardfarm farmer --data ROOT --count N [options]
  --data ROOT             data root; farmer <i> keeps its identity and fragments in ROOT/farmer-<i> (required)
  --count N               farmers to host in this process (required)
  --first I               index of the first farmer, for names and regions (default 0)
  --relay MULTIADDR       relay whose directory they join; repeatable (default: none)
  --listen-host HOST      IPv4 address every farmer listens on, each on a free port (default 127.0.0.1)
  --tls-cert PATH --tls-key PATH   serve wss (TLS) with this certificate and key (PEM files)
  --quota SIZE            quota of each farmer (default 10GiB)
  --http-base H:PORT      farmer i serves /health and /metrics on PORT+i (default: off)
  --heartbeat MS          directory heartbeat (default 10000)
Regions go round robin over ${GRID_REGIONS.join(', ')} by farmer index, as in \`shardfarm grid\`.`


/** What `hostFarmers` starts. */
export interface HostInit {
  root: string
  count: number
  /** @default 0 */
  first?: number
  /** Relays every farmer announces to. @default none */
  relays?: string[]
  quota?: number
  httpBase?: { host: string, port: number }
  heartbeatMs?: number
  /** Serve wss with this certificate and key (PEM), every farmer the same. @default plain ws */
  tls?: { cert: string, key: string }
  /** The IPv4 address every farmer listens on, each on a free port. @default '127.0.0.1' */
  listenHost?: string
}

/** Starts `count` farmers in this process; on a failure stops those already started and throws. */
export async function hostFarmers (init: HostInit): Promise<FarmerProcess[]> {
  const first = init.first ?? 0
  const started: FarmerProcess[] = []
  try {
    // One at a time: their startups (key loading, store scan) would only contend for the same CPU.
    for (let j = 0; j < init.count; j++) {
      const i = first + j
      started.push(await startFarmer({
        dataDir: `${init.root}/farmer-${i}`,
        region: GRID_REGIONS[i % GRID_REGIONS.length]!,
        ...(init.relays !== undefined && init.relays.length > 0 ? { relays: init.relays } : {}),
        ...(init.quota !== undefined ? { quota: init.quota } : {}),
        ...(init.heartbeatMs !== undefined ? { heartbeatMs: init.heartbeatMs } : {}),
        listen: [wsListenAddr('listen-host', `${init.listenHost ?? '127.0.0.1'}:0`, init.tls)],
        ...(init.tls !== undefined ? { tls: init.tls } : {}),
        ...(init.httpBase !== undefined ? { http: { host: init.httpBase.host, port: init.httpBase.port + i } } : {}),
        log: createLogger('farmer', { farmer: i })
      }))
    }
  } catch (err) {
    await Promise.all(started.map(async f => { await f.stop() }))
    throw err
  }
  return started
}

/** Runs `shardfarm farmer --count N`. */
export async function farmHostCommand (argv: string[]): Promise<void> {
  const f = parseFlags(argv, {
    data: { type: 'string' }, count: { type: 'string' }, first: { type: 'string' }, relay: { type: 'string', multiple: true },
    quota: { type: 'string' }, 'http-base': { type: 'string' }, heartbeat: { type: 'string' },
    'tls-cert': { type: 'string' }, 'tls-key': { type: 'string' }, 'listen-host': { type: 'string' }
  })
  const tls = await readTlsFlags(f['tls-cert'], f['tls-key'])
  if (f.data === undefined) throw new UsageError('--data ROOT is required')
  if (f.count === undefined) throw new UsageError('--count N is required')
  const count = parseCount('count', f.count, 1)
  if (count > MAX_HOSTED) throw new UsageError(`--count must be at most ${MAX_HOSTED}, got ${count}`)
  const relays = farmerRelays(f.relay)
  const listenHost = f['listen-host'] !== undefined ? parseHost('listen-host', f['listen-host']) : undefined
  const log = createLogger('farmers')
  const farmers = await hostFarmers({
    root: f.data, count,
    ...(f.first !== undefined ? { first: parseCount('first', f.first, 0) } : {}),
    ...(relays.length > 0 ? { relays } : {}),
    ...(f.quota !== undefined ? { quota: parseSize('quota', f.quota) } : {}),
    ...(f['http-base'] !== undefined ? { httpBase: parseHostPort('http-base', f['http-base']) } : {}),
    ...(f.heartbeat !== undefined ? { heartbeatMs: parseCount('heartbeat', f.heartbeat, 50) } : {}),
    ...(tls !== undefined ? { tls } : {}),
    ...(listenHost !== undefined ? { listenHost } : {})
  })
  stopOnSignals(async () => { await Promise.all(farmers.map(async x => { await x.stop() })) }, log)
  log.info('farmers listening', { count, addrs: farmers.map(x => x.addr) })
  printAddress(farmers.map(x => x.addr).join(' '))
}
