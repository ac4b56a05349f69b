/**
 * `shardfarm grid [--farmers 6] [--relays 1] [--data ./.shardfarm]`: a whole local grid on
 * 127.0.0.1, R federated relays (each joins the ones before it with `--peer`) and N full farmers,
 * each a real child process running the same CLI. Prints the relays' addresses on one stdout line,
 * separated by spaces (the first is the one a client needs; farmers announce to it, and gossip
 * lists them on every relay), and records the first for the file commands in the person's
 * config folder (`local-grid.addr`, see `relay-address.ts`) and for the app's server in
 * `DATA/relay.addr`; runs until Ctrl-C, then stops every child cleanly and removes both.
 * Children die with this process even when it is SIGKILLed (IPC channel, see `spawn.ts`).
 * `--per-process K` hosts K farmers per child (`shardfarm farmer --count K`, `farm-host.ts`), so that a grid
 * big enough for every policy fits a small machine.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { parseCount, parseFlags, parseHostPort, parseSize, UsageError } from './args.ts'
import { printAddress, stopOnSignals } from './lifecycle.ts'
import { createLogger } from './log.ts'
import { forgetLocalGrid, RELAY_ADDR_FILE, saveLocalGrid } from './relay-address.ts'
import { spawnShardfarm, stopChild } from './spawn.ts'
import type { ShardfarmChild } from './spawn.ts'

/** Most farmers one `shardfarm farmer --count K` process hosts (see `farm-host.ts`). */
export const MAX_HOSTED = 16
/** Most relays one grid runs. */
export const MAX_GRID_RELAYS = 8

/** New farmers a local grid's relays admit from its one network per minute and per hour: no cap in practice. */
const LOCAL_GRID_ADMISSIONS = 1_000_000

/** Regions the grid's farmers are spread over, round robin, so region policies have something to pick. */
export const GRID_REGIONS = ['eu-west', 'eu-central', 'us-east'] as const

export const GRID_USAGE = `shardfarm grid [options]
  --farmers N             full farmers to start (default 6: custom policies such as 4 + 2);
                          the presets need live 18, mixed 22 (18 full), archive 64 over 3 regions
                          (80 leaves spares; \`shardfarm start\` runs 80, 16 per process)
  --relays R              federated relays to start (default 1; relay-<i>/ for i > 0)
  --per-process K         farmers hosted by one process (default 1: each its own; see \`shardfarm farmer --count\`)
  --data DIR              data root; relay/ and farmer-<i>/ inside (default ./.shardfarm)
  --relay-listen H:PORT   relay WebSocket address (default 127.0.0.1:0)
  --quota SIZE            quota of each farmer (default 10GiB)
  --http-base H:PORT      farmer i serves /health and /metrics on PORT+i (default: off)
  --heartbeat MS          farmers' directory heartbeat (default 10000)`

/** Runs the grid subcommand. */
export async function gridCommand (argv: string[]): Promise<void> {
  const f = parseFlags(argv, {
    farmers: { type: 'string' }, data: { type: 'string' }, 'relay-listen': { type: 'string' },
    quota: { type: 'string' }, 'http-base': { type: 'string' }, heartbeat: { type: 'string' }, 'per-process': { type: 'string' },
    relays: { type: 'string' }
  })
  const relayCount = parseCount('relays', f.relays ?? '1', 1)
  if (relayCount > MAX_GRID_RELAYS) throw new UsageError(`--relays must be at most ${MAX_GRID_RELAYS}, got ${relayCount}`)
  const n = parseCount('farmers', f.farmers ?? '6', 1)
  const perProcess = parseCount('per-process', f['per-process'] ?? '1', 1)
  if (perProcess > MAX_HOSTED) throw new UsageError(`--per-process must be at most ${MAX_HOSTED}, got ${perProcess}`)
  const root = f.data ?? './.shardfarm'
  const httpBase = f['http-base'] === undefined ? undefined : parseHostPort('http-base', f['http-base'])
  if (f.quota !== undefined) parseSize('quota', f.quota) // fail here, not in six children
  const log = createLogger('grid')
  await mkdir(root, { recursive: true })

  const children: ShardfarmChild[] = []
  const relays: ShardfarmChild[] = []
  let stopping = false
  let announced: string | undefined
  const stopAll = async (): Promise<void> => {
    stopping = true
    await rm(join(root, RELAY_ADDR_FILE), { force: true }) // a stale address would send clients to a dead relay
    if (announced !== undefined) await forgetLocalGrid(announced).catch(() => {})
    // Farmers first, so their directory `leave` still reaches the relays.
    await Promise.all(children.slice(relays.length).map(async c => await stopChild(c)))
    await Promise.all(children.slice(0, relays.length).map(async c => await stopChild(c)))
  }
  stopOnSignals(stopAll, log)
  const watch = (c: ShardfarmChild, name: string): void => {
    void c.exited.then(code => { if (!stopping) log.error('child exited', { name, pid: c.pid, code }) })
  }

  try {
    // Every farmer here runs on this host: new farmers are vetted at once, clients are told the
    // farmers share a subnet on purpose (else placement would refuse them all one subnet), and the
    // per-network admission caps, there against one network bringing in a crowd, are lifted (the
    // crowd here is the grid itself).
    // Relay i joins relays 0..i-1; the first listens where --relay-listen says, the others anywhere.
    for (let i = 0; i < relayCount; i++) {
      const peers = relays.flatMap(r => ['--peer', r.addr])
      const c = await spawnShardfarm(['relay', '--data', join(root, i === 0 ? 'relay' : `relay-${i}`),
        '--listen', i === 0 ? (f['relay-listen'] ?? '127.0.0.1:0') : '127.0.0.1:0', '--vetting-period', '0', '--shared-subnets',
        '--new-farmers-per-minute', String(LOCAL_GRID_ADMISSIONS), '--new-farmers-per-hour', String(LOCAL_GRID_ADMISSIONS), ...peers], { name: `relay-${i}` })
      children.push(c)
      relays.push(c)
      watch(c, `relay-${i}`)
    }
    const relay = relays[0]!
    const relayFlags = relays.flatMap(r => ['--relay', r.addr]) // each farmer announces to every relay
    const farmers = perProcess === 1
      ? await Promise.all(Array.from({ length: n }, async (_, i) => {
        const args = ['farmer', '--data', join(root, `farmer-${i}`), '--region', GRID_REGIONS[i % GRID_REGIONS.length]!, ...relayFlags]
        if (f.quota !== undefined) args.push('--quota', f.quota)
        if (f.heartbeat !== undefined) args.push('--heartbeat', f.heartbeat)
        if (httpBase !== undefined) args.push('--http', `${httpBase.host}:${httpBase.port + i}`)
        const c = await spawnShardfarm(args, { name: `farmer-${i}` })
        children.push(c)
        watch(c, `farmer-${i}`)
        return c.addr
      }))
      : (await Promise.all(Array.from({ length: Math.ceil(n / perProcess) }, async (_, h) => {
          // Host h runs farmers first..first+count-1, with the same folders, regions and ports as one per process.
          const first = h * perProcess
          const args = ['farmer', '--data', root, '--count', String(Math.min(perProcess, n - first)), '--first', String(first), ...relayFlags]
          if (f.quota !== undefined) args.push('--quota', f.quota)
          if (f.heartbeat !== undefined) args.push('--heartbeat', f.heartbeat)
          if (httpBase !== undefined) args.push('--http-base', `${httpBase.host}:${httpBase.port}`)
          const c = await spawnShardfarm(args, { name: `farmers-${h}` })
          children.push(c)
          watch(c, `farmers-${h}`)
          return c.addr.split(' ')
        }))).flat()
    // Every relay, one a line, first the one the others joined: clients ask them in this order.
    const list = relays.map(r => r.addr).join('\n')
    await writeFile(join(root, RELAY_ADDR_FILE), list + '\n')
    announced = list
    await saveLocalGrid(list)
    log.info('grid up', { relay: relay.addr, relays: relays.map(r => r.addr), farmers, data: root })
    printAddress(relays.map(r => r.addr).join(' '))
  } catch (err) {
    log.error('grid failed to start', { err })
    await stopAll()
    process.exit(1)
  }
}
