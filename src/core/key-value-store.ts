/**
 * The `KeyValueStore` port: where the small things a client or farmer keeps between runs live (the
 * owner's file index, identities, upload jobs and their held fragments). Adapters live in
 * `src/stores/kv/` (memory, files on disk, IndexedDB) and all of them pass `runKeyValueStoreTests`
 * from `src/stores/kv/conformance.ts`. This module is pure: types and key checks only.
 */
import { ShardfarmError } from './errors.ts'

/**
 * A key is a path of segments, e.g. `['jobs', id, 'segment', '3']`. A key may be the prefix of
 * another (`['jobs', id]` and `['jobs', id, 'segment', '3']` both hold values).
 */
export type StorageKey = readonly string[]

/** The longest segment a key may have, in characters. */
export const MAX_KEY_SEGMENT = 128

/** Segments are 1–128 characters of letters, digits, `-`, `_` and `.`, and never `.` or `..`. */
const SEGMENT = /^[A-Za-z0-9_.-]{1,128}$/

/** A key with an empty, overlong or unsafe segment, or no segment at all. */
export class InvalidStorageKeyError extends ShardfarmError {
  constructor (key: readonly unknown[]) {
    super('InvalidStorageKeyError', 'INVALID_STORAGE_KEY', `Not a storage key: ${JSON.stringify(key).slice(0, 200)}`, { key })
  }
}

/** Throws `InvalidStorageKeyError` unless `key` is a valid key (or, with `prefix`, a valid prefix, which may be empty). */
export function checkStorageKey (key: readonly unknown[], prefix = false): asserts key is StorageKey {
  if (!Array.isArray(key) || (!prefix && key.length === 0)) throw new InvalidStorageKeyError(key)
  for (const s of key) {
    if (typeof s !== 'string' || !SEGMENT.test(s) || s === '.' || s === '..') throw new InvalidStorageKeyError(key)
  }
}

/**
 * Bytes under keys. Every write is atomic per key: after a crash a key holds its old value or its
 * new one, never a mix. Every method checks keys first (`InvalidStorageKeyError`).
 */
export interface KeyValueStore {
  /** The value under `key`, or undefined. */
  load: (key: StorageKey) => Promise<Uint8Array | undefined>
  /** Stores `value` under `key`, replacing any earlier value. */
  save: (key: StorageKey, value: Uint8Array) => Promise<void>
  /** Removes `key` (not the keys below it). Removing an absent key succeeds. */
  remove: (key: StorageKey) => Promise<void>
  /** Every key that starts with `prefix` (the prefix itself included when it holds a value), sorted. */
  keys: (prefix: StorageKey) => Promise<StorageKey[]>
  /** Removes every key that starts with `prefix`. */
  removeRange: (prefix: StorageKey) => Promise<void>
  /** Releases the store's resources; later calls may fail. */
  close?: () => Promise<void>
}

/** `value` as JSON bytes. */
export function encodeJson (value: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(value))
}

/** The JSON under `key`, or undefined when absent or unreadable (a torn write of an older format). */
export async function loadJson<T> (store: Pick<KeyValueStore, 'load'>, key: StorageKey): Promise<T | undefined> {
  const bytes = await store.load(key)
  if (bytes === undefined) return undefined
  try {
    return JSON.parse(new TextDecoder().decode(bytes)) as T
  } catch {
    return undefined
  }
}

/** Stores `value` as JSON under `key`. */
export async function saveJson (store: Pick<KeyValueStore, 'save'>, key: StorageKey, value: unknown): Promise<void> {
  await store.save(key, encodeJson(value))
}
