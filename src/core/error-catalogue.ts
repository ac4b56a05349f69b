/**
 * What every error code means to the people who meet it: the exit status of the `shardfarm`
 * command and the sentence the app shows. One table for both, so a new error gets its exit status
 * and its words in one place, and a test (`test/errors/catalogued.test.ts`) fails for any exported
 * error class whose code has no entry.
 *
 * Keyed by `code`, the stable key (see `errors.ts`). An error that crossed a worker arrives with its
 * `name` only (comlink keeps `name`, `message` and `stack`), so each entry also lists the names of
 * the classes that carry its code. `DirectoryError` and the generic `FarmerError` name carry many
 * codes and are not listed; they never cross a worker.
 */

/** The exit statuses of `shardfarm`. */
export const EXIT = {
  DONE: 0,
  /** Anything not below, including bugs. */
  FAILURE: 1,
  /** A bad command line, link or policy: running it again unchanged cannot help. */
  USAGE: 2,
  /** Too few farmers answered: the data may come back when they do. */
  UNAVAILABLE: 3,
  /** Wrong key or tampered data. */
  AUTHENTICATION: 4,
  /** The storage policy cannot be placed on this grid. */
  PLACEMENT: 5,
  /** `check`: every segment can be read, but some has no proven fragment to spare: repair it now. */
  AT_RISK: 6,
  /** Ctrl-C. Decided by the command, which alone knows the person asked for the abort. */
  INTERRUPTED: 130
} as const

/** One exit status of `shardfarm`. */
export type ExitCode = typeof EXIT[keyof typeof EXIT]

/** What one error code means. */
export interface ErrorEntry {
  /** The exit status of a `shardfarm` command that fails with it. */
  exit: ExitCode
  /**
   * The app's sentence. Absent for errors a person cannot act on (bugs, protocol breaches): the app
   * then says "Something went wrong: <message>", since the message is what a bug report needs.
   */
  sentence?: string
  /** What the person can do about it, for a line under the sentence. */
  hint?: string
  /** Names of the classes that carry this code. */
  names?: readonly string[]
}

const { FAILURE, USAGE, UNAVAILABLE, AUTHENTICATION, PLACEMENT } = EXIT

/** Every error code Shardfarm raises, by code. */
export const ERROR_CATALOGUE: Readonly<Record<string, Readonly<ErrorEntry>>> = {
  // Usage: the command line, the link or the policy is wrong.
  USAGE: { exit: USAGE, names: ['UsageError'] },
  BAD_CAPABILITY: {
    exit: USAGE, names: ['CapabilityError'],
    sentence: 'This is not a valid Shardfarm link. Check that you copied all of it.'
  },
  INVALID_POLICY: { exit: USAGE, names: ['InvalidPolicyError'] },
  // `npm run sim:durability` with a parameter or policy the durability model cannot take.
  INVALID_MODEL_PARAMS: { exit: USAGE, names: ['DurabilityModelError'] },
  // `shardfarm get` refuses to replace a file: like a usage error, running it again unchanged cannot help.
  TARGET_EXISTS: {
    exit: USAGE, names: ['TargetExistsError'],
    sentence: 'A file with this name is already there, and it was left as it is.',
    hint: 'Save the download under another name, or choose to replace the file.'
  },

  // The file cannot be had right now: too few farmers answered.
  SEGMENT_UNAVAILABLE: {
    exit: UNAVAILABLE, names: ['SegmentUnavailableError'],
    sentence: 'Too many farmers holding parts of this file are offline right now to rebuild it. Try again later.'
  },
  MANIFEST_UNAVAILABLE: {
    exit: UNAVAILABLE, names: ['ManifestUnavailableError'],
    sentence: 'None of the farmers holding this file\'s index answered. They may be offline; try again later.'
  },
  FILE_NOT_FOUND: {
    exit: UNAVAILABLE, names: ['FileNotFoundError'],
    sentence: 'This file is no longer on the grid: its owner deleted it, or the link is not complete.'
  },
  FRAGMENT_UNDELIVERABLE: {
    exit: UNAVAILABLE, names: ['FragmentUndeliverableError'],
    sentence: 'Not enough farmers accepted the file\'s fragments right now: some refused or could not be reached.'
  },

  // The bytes are not the ones stored: wrong key or tampering.
  AUTHENTICATION_FAILED: {
    exit: AUTHENTICATION, names: ['AuthenticationError'],
    sentence: 'This link does not open this file: it was changed or is incomplete. Ask the sender for the link again.'
  },
  CONTENT_MISMATCH: {
    exit: AUTHENTICATION, names: ['ContentMismatchError'],
    sentence: 'The file came back different from what was stored, so it was not saved. Try again later.'
  },

  POLICY_UNSATISFIABLE: {
    exit: PLACEMENT, names: ['PlacementError'],
    sentence: 'The grid has too few suitable farmers for this storage policy.',
    hint: 'Choose a policy that needs fewer farmers or regions, or wait until more farmers join.'
  },

  // Reaching the grid.
  OFFLINE: {
    exit: FAILURE, names: ['OfflineError'],
    sentence: 'You are offline. The upload is saved and will be sent when the grid is reachable again.'
  },
  NO_GRID: {
    exit: FAILURE, names: ['NoGridError'],
    sentence: 'No grid found. Start one with `npm start`, or set the relay address in Network.'
  },
  INSECURE_GRID: {
    exit: FAILURE, names: ['InsecureGridError'],
    sentence: 'This page is served over HTTPS, and a secure page can open only wss:// addresses; this grid\'s relays offer only ws://.',
    hint: 'Open the app over http:// from the same machine as the grid, or run the relays and farmers with --tls-cert and --tls-key.'
  },
  NO_RELAY_RESERVATION: {
    exit: FAILURE, names: ['NoRelayReservationError'],
    hint: 'Check that the relay is running and reachable, then offer storage again.'
  },

  // The fragment protocol and the fragment stores (the same codes on both sides of the wire).
  QUOTA_EXCEEDED: { exit: FAILURE, names: ['QuotaExceededError', 'ClaimLimitError'], sentence: 'The farmer\'s storage offer is full.' },
  DISK_FULL: { exit: FAILURE, names: ['DiskFullError'], sentence: 'This browser has no storage space left for Shardfarm.' },
  STORE_EVICTED: {
    exit: FAILURE, names: ['StoreEvictedError'],
    sentence: 'The browser cleared the storage this page offered to the grid (low disk space or site data cleared). Offer storage again to rejoin.'
  },
  BAD_REQUEST: {
    exit: FAILURE,
    names: ['BadRequestError', 'InvalidFragmentIdError', 'EmptyFragmentError', 'InvalidFragmentMetaError', 'InvalidOwnerKeyError']
  },
  HASH_MISMATCH: { exit: FAILURE, names: ['HashMismatchError', 'ManifestHashMismatchError'] },
  NOT_FOUND: { exit: FAILURE, names: ['FragmentNotFoundError'] },
  CORRUPT_FRAGMENT: { exit: FAILURE, names: ['CorruptFragmentError'] },
  STORE_CLOSED: { exit: FAILURE, names: ['StoreClosedError'] },
  TOO_LARGE: { exit: FAILURE, names: ['TooLargeError'] },
  FORBIDDEN: { exit: FAILURE, names: ['ForbiddenError', 'DelegationError'] },
  TIMEOUT: { exit: FAILURE, names: ['TimeoutError'] },
  BUSY: { exit: FAILURE, names: ['FarmerBusyError'] },
  INTERNAL: { exit: FAILURE, names: ['FarmerInternalError'] },
  UNREACHABLE: { exit: FAILURE, names: ['FarmerUnreachableError'] },
  BAD_RESPONSE: { exit: FAILURE, names: ['BadResponseError'] },
  POSSESSION_PROOF_FAILED: { exit: FAILURE, names: ['PossessionProofError'] },

  // The relay's directory (`DirectoryError`; its other codes are the fragment protocol's).
  STALE_RECORD: { exit: FAILURE },
  DIRECTORY_FULL: { exit: FAILURE },

  // The codec.
  NOT_ENOUGH_SHARDS: { exit: FAILURE, names: ['NotEnoughShardsError'], sentence: 'Too few fragments survived to rebuild the file.' },
  WORKER_CRASHED: { exit: FAILURE, names: ['WorkerCrashedError'], sentence: 'A background worker stopped unexpectedly. Please try again.' },
  INVALID_SHARD_COUNTS: { exit: FAILURE, names: ['InvalidShardCountsError'] },
  EMPTY_SHARDS: { exit: FAILURE, names: ['EmptyShardsError'] },
  SHARD_LENGTH_MISMATCH: { exit: FAILURE, names: ['ShardLengthMismatchError'] },
  WRONG_SHARD_COUNT: { exit: FAILURE, names: ['WrongShardCountError'] },
  INVALID_POINTER: { exit: FAILURE, names: ['InvalidPointerError'] },
  OVERLAPPING_SHARDS: { exit: FAILURE, names: ['OverlappingShardsError'] },
  CODEC_OUT_OF_MEMORY: { exit: FAILURE, names: ['CodecOutOfMemoryError'] },
  CODEC_ERROR: { exit: FAILURE, names: ['CodecError'] },

  // Everything else.
  ABORTED: { exit: FAILURE, names: ['AbortError'] },
  BAD_MANIFEST: { exit: FAILURE, names: ['ManifestError'] },
  SOURCE_CHANGED: { exit: FAILURE, names: ['SourceChangedError'] },
  INVALID_STORAGE_KEY: { exit: FAILURE, names: ['InvalidStorageKeyError'] },
  SHORT_WRITE: { exit: FAILURE, names: ['ShortWriteError'] },
  BAD_MERKLE_INPUT: { exit: FAILURE, names: ['MerkleInputError'] }
}

const CODE_OF_NAME: ReadonlyMap<string, string> = new Map(
  Object.entries(ERROR_CATALOGUE).flatMap(([code, e]) => (e.names ?? []).map(name => [name, code] as const)))

/**
 * The catalogued code of `err`: its `code` when the catalogue has it, else the code its `name`
 * stands for (an error from a worker has lost its `code`); undefined for anything else.
 */
export function codeOf (err: unknown): string | undefined {
  const e = (err ?? {}) as { name?: unknown, code?: unknown }
  if (typeof e.code === 'string' && Object.hasOwn(ERROR_CATALOGUE, e.code)) return e.code
  return typeof e.name === 'string' ? CODE_OF_NAME.get(e.name) : undefined
}

/** The catalogue entry of `err`, or undefined for an error Shardfarm did not raise on purpose. */
export function errorEntry (err: unknown): Readonly<ErrorEntry> | undefined {
  const code = codeOf(err)
  return code === undefined ? undefined : ERROR_CATALOGUE[code]
}

/** The exit status of a command that failed with `err`: its entry's, else `EXIT.FAILURE`. */
export function exitCodeOf (err: unknown): ExitCode {
  return errorEntry(err)?.exit ?? FAILURE
}
