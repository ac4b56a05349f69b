/**
 * Ids and limits of the fragment protocol. Every limit here is a default: farmers and clients take
 * an override through their `init` object (`init.x ?? DEFAULT`). The limits that a peer must know to
 * interoperate (frame layout, header size, fragment size, HAS batch) are written down in
 * `docs/protocol.md`; change them only together with the protocol version.
 */

/**
 * The versioned protocol id. A wire-incompatible change gets a new major version (see docs): 2.0
 * made the owner of a PUT required, added its nonce and the possession proof, named the owner in
 * DELETE and added RENEW.
 */
export const FRAGMENT_PROTOCOL = '/shardfarm/fragment/2.0.0'

/** Operations of the fragment protocol. */
export const OPS = ['PUT', 'GET', 'HAS', 'DELETE', 'STAT', 'RENEW'] as const
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
 * PUT bytes a farmer holds in memory across all peers at once. They are taken as the body arrives
 * (one `PUT_CHARGE_BYTES` slice ahead of the bytes read), never for a declared size that has not
 * been sent, so a peer that declares 16 MiB and trickles costs the others nothing. A PUT whose
 * next slice does not fit is refused with `BUSY`.
 * @default 256 MiB
 */
export const MAX_PUT_BYTES_IN_FLIGHT = 256 * 1024 * 1024
/**
 * Declared PUT bytes one peer may have in flight, all its connections together. Reserved in full
 * when the header arrives; past it the PUT is refused with `BUSY`. Eight full-size fragments: the
 * client's `CLIENT_MAX_STREAMS_PER_FARMER`, so an honest client never meets it.
 * @default 128 MiB
 */
export const MAX_PUT_BYTES_PER_PEER = 128 * 1024 * 1024
/**
 * Declared PUT bytes one connection may have in flight (as `MAX_PUT_BYTES_PER_PEER`, for each
 * connection alone).
 * @default 128 MiB
 */
export const MAX_PUT_BYTES_PER_CONNECTION = 128 * 1024 * 1024
/**
 * Slice of the global PUT budget taken ahead of each read of a PUT body.
 * @default 256 KiB
 */
export const PUT_CHARGE_BYTES = 256 * 1024
/**
 * Concurrent GETs, all peers together; past it a GET is refused with `BUSY`. A GET streams its
 * fragment from the store in `GET_CHUNK_BYTES` chunks as the reader takes them, so each costs about
 * two chunks plus the muxer's window, not the fragment (stores without a streaming read excepted).
 * @default 64
 */
export const MAX_GETS_IN_FLIGHT = 64
/**
 * Concurrent GETs of one peer, all its connections together (`BUSY` past it). The client's
 * `CLIENT_MAX_STREAMS_PER_FARMER`, so an honest client never meets it.
 * @default 8
 */
export const MAX_GETS_PER_PEER = 8
/**
 * Concurrent GETs on one connection (`BUSY` past it).
 * @default 8
 */
export const MAX_GETS_PER_CONNECTION = 8
/**
 * Bytes read from the store per step of a GET: one chunk is in flight to the muxer while the next
 * is read (and hashed).
 * @default 256 KiB
 */
export const GET_CHUNK_BYTES = 256 * 1024
/**
 * Absolute lifetime of a stream that moves a full-size fragment (`MAX_FRAGMENT_BYTES`), from the
 * moment it opens to its last byte. Smaller transfers get a proportional share, never less than
 * `STREAM_MIN_DEADLINE_MS`. Past it the stream is answered `TIMEOUT` (reason `deadline`) if no
 * answer was sent yet, and reset.
 * @default 60 s
 */
export const STREAM_DEADLINE_MS = 60_000
/**
 * Shortest absolute deadline of a stream: for small fragments and for HAS, DELETE, STAT.
 * @default 15 s
 */
export const STREAM_MIN_DEADLINE_MS = 15_000
/**
 * Slowest transfer a farmer tolerates, in bytes per second, while it waits on the peer (header,
 * body, end of request, the reader taking a GET body). Measured over each `RATE_WINDOW_MS`: a window
 * that moves less than `min(rate × window, bytes still due)` ends the stream with `TIMEOUT`
 * (reason `too-slow`) and a reset. Time the farmer spends on its own work (hashing, disk) is not
 * counted.
 * @default 64 KiB/s
 */
export const MIN_TRANSFER_BYTES_PER_SECOND = 64 * 1024
/**
 * Window over which `MIN_TRANSFER_BYTES_PER_SECOND` is averaged.
 * @default 10 s
 */
export const RATE_WINDOW_MS = 10_000
/** A DELETE signed further than this from the farmer's clock is stale (`FORBIDDEN`). */
export const MAX_CLOCK_SKEW_MS = 5 * 60_000
/** Delete nonces remembered at once; beyond it deletes are refused `BUSY` until old ones expire. */
export const MAX_REMEMBERED_NONCES = 100_000
/** How long a claim lasts from the PUT or RENEW that set it: 30 days. */
export const LEASE_MS = 30 * 24 * 3600_000
/** How often a farmer removes expired claims and the fragments nobody claims any more: hourly. */
export const COLLECT_INTERVAL_MS = 3600_000
/**
 * Share of the store's capacity one owner key, and one uploading peer, may hold claims on (the
 * defaults of `maxBytesPerOwner` and `maxBytesPerPeer`): a quarter, so no single key or peer fills
 * a farmer.
 */
export const MAX_SHARE_PER_OWNER = 1 / 4
/** Prefix of the possession proof: hex SHA-256 of it, the PUT's 16 nonce bytes and the fragment. */
export const POSSESSION_PROOF_DOMAIN = 'shardfarm-possession/1:'
/** After a refusal, how long a farmer keeps discarding the rest of a request body before resetting. */
export const REFUSAL_DRAIN_MS = 2_000
/** Chunk size for sending bodies: large enough to amortise per-send cost, small enough to interleave. */
export const SEND_CHUNK_BYTES = 256 * 1024

/** Client: default deadline of one call, dial included. */
export const CLIENT_TIMEOUT_MS = 60_000
/** Client: concurrent streams to one farmer (below the farmer's `MAX_INBOUND_STREAMS`). */
export const CLIENT_MAX_STREAMS_PER_FARMER = 8
