/**
 * `shardfarm relay [--listen 127.0.0.1:PORT] [--data DIR] [--directory-ttl MS]`: runs a relay
 * until SIGINT/SIGTERM. stdout gets exactly one line, the relay's multiaddr with `/p2p/<id>`.
 */
import { startRelay } from '../../relay/main.ts'
import { parseCount, parseFlags, wsListenAddr } from './args.ts'
import { stopOnSignals, printAddress } from './lifecycle.ts'
import { createLogger } from './log.ts'

export const RELAY_USAGE = `shardfarm relay [options]
  --listen HOST:PORT      WebSocket listen address (default 127.0.0.1:0, any free port)
  --data DIR              identity directory (default ./.shardfarm/relay)
  --directory-ttl MS      forget farmers silent this long (default 30000)
  --max-reservations N    circuit relay reservations at once (default 1024)`

/** Runs the relay subcommand. */
export async function relayCommand (argv: string[]): Promise<void> {
  const f = parseFlags(argv, {
    listen: { type: 'string' }, data: { type: 'string' },
    'directory-ttl': { type: 'string' }, 'max-reservations': { type: 'string' }
  })
  const log = createLogger('relay')
  const relay = await startRelay({
    dataDir: f.data ?? './.shardfarm/relay',
    listen: [wsListenAddr('listen', f.listen ?? '127.0.0.1:0')],
    directory: f['directory-ttl'] === undefined ? {} : { ttlMs: parseCount('directory-ttl', f['directory-ttl'], 100) },
    ...(f['max-reservations'] !== undefined ? { maxReservations: parseCount('max-reservations', f['max-reservations'], 1) } : {}),
    log
  })
  stopOnSignals(relay.stop, log)
  log.info('relay listening', { addr: relay.addr, peerId: relay.libp2p.peerId.toString(), ttlMs: relay.directory.ttlMs })
  printAddress(relay.addr)
}
