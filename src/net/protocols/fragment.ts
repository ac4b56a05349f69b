/**
 * The fragment protocol's registration with libp2p: its versioned id and the stream limits it is
 * served with. The farmer (`src/farmer/service.ts`) supplies the handler; the frames are in
 * `frames.ts` and the spec in `docs/protocol.md`.
 */
import type { Libp2p, StreamHandler } from '@libp2p/interface'
import { FRAGMENT_PROTOCOL, MAX_INBOUND_STREAMS } from './fragment-constants.ts'

export { FRAGMENT_PROTOCOL } from './fragment-constants.ts'

/** Options of `registerFragmentProtocol`. */
export interface FragmentProtocolInit {
  /**
   * Concurrent inbound fragment streams per connection; libp2p resets the ones beyond.
   * @default MAX_INBOUND_STREAMS (32)
   */
  maxInboundStreams?: number
}

/** The part of a libp2p node that serving a protocol needs. */
export type ProtocolHost = Pick<Libp2p, 'handle' | 'unhandle'>

/**
 * Serves the fragment protocol with `handler`. Limited (relayed) connections are refused on purpose:
 * fragments must travel on direct connections, never through a relay's 128 KiB allowance.
 */
export async function registerFragmentProtocol (
  libp2p: ProtocolHost, handler: StreamHandler, init: FragmentProtocolInit = {}
): Promise<void> {
  await libp2p.handle(FRAGMENT_PROTOCOL, handler, {
    maxInboundStreams: init.maxInboundStreams ?? MAX_INBOUND_STREAMS,
    runOnLimitedConnection: false
  })
}

/** Stops serving the fragment protocol; streams already open are the caller's to end. */
export async function unregisterFragmentProtocol (libp2p: ProtocolHost): Promise<void> {
  await libp2p.unhandle(FRAGMENT_PROTOCOL)
}
