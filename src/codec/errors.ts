import { ShardfarmError } from '../core/errors.ts'

/**
 * Named errors of the codec. The wasm module reports a numeric code plus up to three integers
 * (see `wasm/src/error.rs`); `codecError` turns those into one of these classes. Each keeps the
 * Rust variant's data in `details`, and its `name` survives a trip through comlink.
 */
export class InvalidShardCountsError extends ShardfarmError {
  constructor (k: number, m: number) {
    super('InvalidShardCountsError', 'INVALID_SHARD_COUNTS', `Need 1 ≤ k, 1 ≤ m and k + m ≤ 256; got k = ${k}, m = ${m}`, { k, m })
  }
}

export class EmptyShardsError extends ShardfarmError {
  constructor () {
    super('EmptyShardsError', 'EMPTY_SHARDS', 'Shards must be at least one byte long')
  }
}

export class ShardLengthMismatchError extends ShardfarmError {
  constructor (index: number, expected: number, actual: number) {
    super('ShardLengthMismatchError', 'SHARD_LENGTH_MISMATCH', `Shard ${index} is ${actual} bytes, expected ${expected}`, { index, expected, actual })
  }
}

export class WrongShardCountError extends ShardfarmError {
  constructor (expected: number, actual: number) {
    super('WrongShardCountError', 'WRONG_SHARD_COUNT', `Expected ${expected} shards, got ${actual}`, { expected, actual })
  }
}

export class NotEnoughShardsError extends ShardfarmError {
  constructor (needed: number, present: number) {
    super('NotEnoughShardsError', 'NOT_ENOUGH_SHARDS', `Need ${needed} shards to rebuild, only ${present} present`, { needed, present })
  }
}

export class InvalidPointerError extends ShardfarmError {
  constructor (index: number) {
    super('InvalidPointerError', 'INVALID_POINTER', `Pointer ${index} is outside any codec allocation`, { index })
  }
}

export class OverlappingShardsError extends ShardfarmError {
  constructor (a: number, b: number) {
    super('OverlappingShardsError', 'OVERLAPPING_SHARDS', `Shards ${a} and ${b} overlap in memory`, { a, b })
  }
}

export class CodecOutOfMemoryError extends ShardfarmError {
  constructor (requested: number) {
    super('CodecOutOfMemoryError', 'CODEC_OUT_OF_MEMORY', `The codec could not allocate ${requested} bytes`, { requested })
  }
}

/** A pool worker died (crashed, was killed or ran out of memory) while running this job. */
export class WorkerCrashedError extends ShardfarmError {
  constructor (reason: string) {
    super('WorkerCrashedError', 'WORKER_CRASHED', `A codec worker stopped while running a job: ${reason}`, { reason })
  }
}

/** The module reported a code this binding does not know (a newer module, or a bug). */
export class CodecError extends ShardfarmError {
  constructor (code: number) {
    super('CodecError', 'CODEC_ERROR', `Codec failed with unknown code ${code}`, { code })
  }
}

/** Maps the module's numeric error (code, fields) to its named class. */
export function codecError (code: number, f: [number, number, number]): ShardfarmError {
  switch (code) {
    case 1: return new InvalidShardCountsError(f[0], f[1])
    case 2: return new EmptyShardsError()
    case 3: return new ShardLengthMismatchError(f[0], f[1], f[2])
    case 4: return new WrongShardCountError(f[0], f[1])
    case 5: return new NotEnoughShardsError(f[0], f[1])
    case 6: return new InvalidPointerError(f[0])
    case 7: return new OverlappingShardsError(f[0], f[1])
    case 8: return new CodecOutOfMemoryError(f[0])
    default: return new CodecError(code)
  }
}
