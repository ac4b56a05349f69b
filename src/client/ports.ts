/**
 * The ports every client operation runs on. The operations know nothing of libp2p, workers or
 * files: Node and the browser each assemble real adapters (`session.node.ts`,
 * `session.browser.ts`), and unit tests wire in-memory ones.
 */
import type { AbortOptions } from '../core/errors.ts'
import type { SegmentCipher } from '../core/envelope.ts'
import type { OwnerKey } from '../core/owner-key.ts'
import type { FarmerInfo } from '../core/placement.ts'

/** A farmer as the pipelines address it. */
export interface FarmerRef {
  peerId: string
  /** Multiaddrs, each ending in `/p2p/<peerId>`. */
  addrs: string[]
}

/** A farmer from the directory: placement facts plus how to reach it. */
export interface Farmer extends FarmerInfo, FarmerRef {}

/** Options of every port call. */
export type CallOptions = AbortOptions

/** Moves fragments to and from farmers. */
export interface FragmentTransport {
  /**
   * Stores a fragment claimed by `owner` (public half), who may delete or renew it later. A farmer
   * that says it holds the fragment already must prove it; one that cannot makes this reject.
   * Resolves `{ stored: false }` when the farmer held it already and proved it (the bytes did not
   * have to move); a transport that cannot tell resolves nothing.
   */
  put(farmer: FarmerRef, id: string, bytes: Uint8Array, options: CallOptions & { owner: Pick<OwnerKey, 'publicKey'> }): Promise<{ stored: boolean } | undefined | void>
  /**
   * True when `get` itself checks SHA-256(bytes) == id (as `FarmerClient` does), so the download
   * need not hash every fragment a second time. Absent or false: the download checks.
   */
  readonly verifiesHashes?: boolean
  /**
   * Fetches a fragment; with `verifiesHashes`, the bytes hash to `id` or the call throws. With
   * `into` (the fragment's exact length), a transport may read the bytes straight into it and return
   * it, saving a buffer and a copy; the caller must not assume it did.
   */
  get(farmer: FarmerRef, id: string, options?: CallOptions & { into?: Uint8Array }): Promise<Uint8Array>
  /** Which of `ids` the farmer holds. */
  has(farmer: FarmerRef, ids: string[], options?: CallOptions): Promise<boolean[]>
  /** Removes the owner's claim on a fragment, signed; the farmer drops the bytes with the last claim. */
  delete(farmer: FarmerRef, id: string, owner: OwnerKey, options?: CallOptions): Promise<void>
  /**
   * Extends the owner's claims on `ids` at `farmer` by one lease (signed batches of `MAX_HAS_IDS`).
   * Resolves, per id in order, to whether the owner's claim existed there and was extended.
   */
  renew(farmer: FarmerRef, ids: string[], owner: OwnerKey, options?: CallOptions): Promise<boolean[]>
}

/** Lists the farmers that are up. */
export interface FarmerDirectory {
  list(options?: CallOptions): Promise<Farmer[]>
}

/** Reed-Solomon, usually the worker pool (`CodecPool` fits as is). */
export interface ErasureCoder {
  /**
   * Fills the m parity shards of `shards` (k + m back to back, the k data shards filled); returns
   * the same bytes, possibly in a new view (a worker pool moves the buffer and back).
   */
  encodeShards(k: number, m: number, shards: Uint8Array, options?: CallOptions): Promise<Uint8Array>
  /**
   * Optional: `encodeShards`, plus each shard's fragment id and (with `roots`) Merkle root, hex,
   * hashed where the shards are (a worker), off the caller's thread. The sealer uses it when present.
   */
  encodeShardsWithDigests?(k: number, m: number, shards: Uint8Array, roots: boolean, options?: CallOptions): Promise<{ shards: Uint8Array, ids: string[], roots: string[] }>
  reconstruct(k: number, m: number, shards: Uint8Array, present: boolean[], options?: CallOptions & { dataOnly?: boolean }): Promise<Uint8Array>
  /** Optional: gets ready for a first job that will come after some round trips (a worker's start-up). */
  warm?(): void
}

/** Random access to the bytes being uploaded (a File in browsers, a file handle in Node). */
export interface ByteSource {
  readonly size: number
  /** Exactly `length` bytes at `offset` (the caller never reads past the end). */
  read(offset: number, length: number): Promise<Uint8Array>
  /**
   * True when every read returns a fresh buffer that nothing else holds: the upload then frees it
   * (`releaseBytes`) as soon as it is encrypted instead of leaving it to the garbage collector.
   */
  readonly fresh?: boolean
  /**
   * Reads exactly `target.length` bytes at `offset` into `target`. When a source has it, the upload
   * reads every segment into one buffer of its own (segments are prepared one at a time) instead of
   * a fresh one per segment, whose first-touch page faults cost about 1 ms per MiB on these VMs.
   */
  readInto?(offset: number, target: Uint8Array): Promise<void>
}

/** What an auditor keeps of its own audits: one score per farmer (`ScoreBook`). */
export interface AuditScores {
  /** Counts one audit of `peer`. */
  record(peer: string, passed: boolean): unknown
  /** False once its audits put `peer` below the trust threshold: no new fragments, its copies do not count. */
  trusted(peer: string): boolean
  /** Placement weight of `peer` (0 excludes it). */
  weight(peer: string): number
}

/** Everything an operation may need; each takes the part it uses (`Pick<ClientPorts, …>`). */
export interface ClientPorts {
  transport: FragmentTransport
  directory: FarmerDirectory
  coder: ErasureCoder
  /** AES-GCM engine for segments. @default webCryptoCipher */
  cipher?: SegmentCipher
  /**
   * Challenges farmers to prove they hold fragments (Merkle audits). Absent: copies are proven
   * by GETs that hash right, which moves whole fragments.
   */
  auditor?: AuditTransport
  /** This client's audit scores of farmers. Absent: every farmer is trusted and weighs the same. */
  scores?: AuditScores
}

/** The ports of operations that only talk to farmers (stat, delete, opening a manifest), with the auditor and scores when there are. */
export type GridPorts = Pick<ClientPorts, 'transport' | 'directory' | 'auditor' | 'scores'>

// The audit port: how operations challenge a farmer to prove it still holds a fragment, without
// knowing the transport. `AuditClient` (`adapters/audit-client.ts`) implements it over libp2p with
// `/shardfarm/audit/1.0.0`.

/** What one audit found. */
export interface AuditOutcome {
  /**
   * `proven`: every challenged leaf verified against the root. `failed`: a proof that does not
   * verify, a wrong size, or a malformed or wrong answer. `missing`: the farmer says it does not
   * hold the fragment.
   */
  verdict: 'proven' | 'failed' | 'missing'
  /** Why it failed, for logs. */
  reason?: string
  /** Wall time of the exchange, dial included. */
  ms: number
  /** Bytes on the wire, request and answer. */
  bytes: number
}

/** The fragment to audit: its id, its Merkle root (hex) and its size, as the manifest records them. */
export interface AuditedFragment {
  id: string
  root: string
  size: number
}

/** Audits farmers. Transport failures (unreachable, timeout) reject with a typed error: they prove nothing either way. */
export interface AuditTransport {
  audit(farmer: FarmerRef, fragment: AuditedFragment, options?: AbortOptions): Promise<AuditOutcome>
  /**
   * Optional: several fragments of one farmer in one exchange (at most `MAX_AUDIT_BATCH`, of
   * `MAX_AUDIT_BATCH_BYTES`), one outcome per fragment, or the farmer's own refusal of that one.
   * Rejects as `audit` does when the whole exchange fails.
   */
  auditMany?(farmer: FarmerRef, fragments: readonly AuditedFragment[], options?: AbortOptions): Promise<Array<AuditOutcome | Error>>
}
