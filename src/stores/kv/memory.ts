/**
 * `KeyValueStore` in a `Map`: for tests, and for state that nobody resumes (a CLI run with no home,
 * an upload that is not kept). Values are copied in and out, so a caller's later writes to its
 * array never reach the store, and the store's never reach the caller.
 */
import { checkStorageKey } from '../../core/key-value-store.ts'
import type { KeyValueStore, StorageKey } from '../../core/key-value-store.ts'
import { compareKeys, copyBytes } from './keys.ts'

/** The separator of a key's segments in the map; no segment can contain it. */
const SEP = '/'

/** `KeyValueStore` held in memory; lost with the object. It has no `close`: nothing to release. */
export class MemoryKeyValueStore implements KeyValueStore {
  /** Values by key, the segments joined with `SEP`. */
  readonly #values = new Map<string, Uint8Array>()

  /** @inheritDoc */
  async load (key: StorageKey): Promise<Uint8Array | undefined> {
    checkStorageKey(key)
    const value = this.#values.get(key.join(SEP))
    return value === undefined ? undefined : copyBytes(value)
  }

  /** @inheritDoc */
  async save (key: StorageKey, value: Uint8Array): Promise<void> {
    checkStorageKey(key)
    this.#values.set(key.join(SEP), copyBytes(value))
  }

  /** @inheritDoc */
  async remove (key: StorageKey): Promise<void> {
    checkStorageKey(key)
    this.#values.delete(key.join(SEP))
  }

  /** @inheritDoc */
  async keys (prefix: StorageKey): Promise<StorageKey[]> {
    checkStorageKey(prefix, true)
    return this.#under(prefix).map(k => k.split(SEP)).sort(compareKeys)
  }

  /** @inheritDoc */
  async removeRange (prefix: StorageKey): Promise<void> {
    checkStorageKey(prefix, true)
    for (const k of this.#under(prefix)) this.#values.delete(k)
  }

  /** The map's keys that start with `prefix`, segment-wise (`['a']` is no prefix of `['ab']`). */
  #under (prefix: StorageKey): string[] {
    const p = prefix.join(SEP)
    return [...this.#values.keys()].filter(k => p === '' || k === p || k.startsWith(p + SEP))
  }
}
