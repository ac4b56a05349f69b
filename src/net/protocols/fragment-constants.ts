/**
 * Ids and limits of the fragment protocol. Every limit here is a default: farmers and clients take
 * an override through their `init` object (`init.x ?? DEFAULT`). The limits that a peer must know to
 * interoperate (frame layout, header size, fragment size, HAS batch) are written down in
 * `docs/protocol.md`; change them only together with the protocol version.
 */

/** The versioned protocol id. A wire-incompatible change gets a new major version (see docs). */
export const FRAGMENT_PROTOCOL = '/shardfarm/fragment/1.0.0'

/** Operations of the fragment protocol. */
export const OPS = ['PUT', 'GET', 'HAS', 'DELETE', 'STAT'] as const
/** One operation of the fragment protocol. */
export type Op = typeof OPS[number]

/** Bytes of the header length prefix (unsigned 32-bit big-endian). */
export const LENGTH_PREFIX_BYTES = 4
/** Largest header a peer must accept: 16 KiB of UTF-8 JSON. */
export const MAX_HEADER_BYTES = 16 * 1024
/** Largest fragment: 16 MiB. The erasure coder never makes bigger ones. */
export const MAX_FRAGMENT_BYTES = 16 * 1024 * 1024
/** Most ids in one HAS request. Ids travel as 32 raw bytes each in the body (32 KiB at most). */
export const MAX_HAS_IDS = 1024
/** Bytes of one raw fragment id in a HAS body. */
export const RAW_ID_BYTES = 32

/** A stream with no bytes moving either way for this long is answered `TIMEOUT` and closed. */
export const STREAM_IDLE_TIMEOUT_MS = 30_000
/**
 * Concurrent inbound fragment streams per connection. libp2p resets streams beyond it, which
 * bounds what one peer can hold open; the client's per-farmer limit stays below it.
 */
export const MAX_INBOUND_STREAMS = 32
/**
 * PUT bytes a farmer holds in memory across all streams at once (declared sizes, reserved before
 * the body is read). Past it a PUT is refused with `BUSY`, so many peers cannot exhaust memory.
 */
export const MAX_PUT_BYTES_IN_FLIGHT = 256 * 1024 * 1024
/** A DELETE signed further than this from the farmer's clock is stale (`FORBIDDEN`). */
export const MAX_CLOCK_SKEW_MS = 5 * 60_000
/** Delete nonces remembered at once; beyond it deletes are refused `BUSY` until old ones expire. */
export const MAX_REMEMBERED_NONCES = 100_000
/** After a refusal, how long a farmer keeps discarding the rest of a request body before resetting. */
export const REFUSAL_DRAIN_MS = 2_000
/** Chunk size for sending bodies: large enough to amortise per-send cost, small enough to interleave. */
export const SEND_CHUNK_BYTES = 256 * 1024

/** Client: default deadline of one call, dial included. */
export const CLIENT_TIMEOUT_MS = 60_000
/** Client: concurrent streams to one farmer (below the farmer's `MAX_INBOUND_STREAMS`). */
export const CLIENT_MAX_STREAMS_PER_FARMER = 8
