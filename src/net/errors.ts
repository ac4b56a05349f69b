/**
 * Errors of reaching the grid at all, before any protocol is spoken. Each protocol's own refusals
 * sit beside it (`protocols/fragment-errors.ts`, `DirectoryError` in `protocols/directory.ts`).
 */
import { ShardfarmError } from '../core/errors.ts'

/** The grid is known but out of reach: no network, or its relay did not answer. Work waits for it. */
export class OfflineError extends ShardfarmError {
  constructor (message = 'The grid cannot be reached') {
    super('OfflineError', 'OFFLINE', message)
  }
}

/** No grid is known: no relay address was given or saved, and no local grid announced one. */
export class NoGridError extends ShardfarmError {
  constructor (message = 'No grid found: no relay address is set and no local grid is running') {
    super('NoGridError', 'NO_GRID', message)
  }
}

/**
 * The page is served over HTTPS and none of the grid's relays has an address it may open (`wss`):
 * a secure page cannot open `ws://`. Not offline: waiting does not help, the grid must serve TLS.
 */
export class InsecureGridError extends ShardfarmError {
  constructor (message = 'A page served over HTTPS can open only wss:// relays, and this grid offers only ws://') {
    super('InsecureGridError', 'INSECURE_GRID', message)
  }
}

/**
 * A light farmer got no `/p2p-circuit/webrtc` address from its relay in time, so no one could dial
 * it: it must not announce itself.
 */
export class NoRelayReservationError extends ShardfarmError {
  constructor () {
    super('NoRelayReservationError', 'NO_RELAY_RESERVATION', 'The relay gave this browser no reachable address')
  }
}
