/**
 * Where a node keeps its libp2p identity between runs, so that its peer id (and with it the holder
 * id of every fragment it stores, and the address others have of it) survives restarts and reloads.
 * Any `KeyValueStore` holds it: files on disk for farmers and relays, IndexedDB for the light
 * farmer. `['identity', name]` holds the private key in libp2p's protobuf encoding.
 */
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import type { KeyValueStore, StorageKey } from '../core/key-value-store.ts'

/** Identities in a `KeyValueStore`, by name (a key segment, e.g. `node` or `farmer`). */
export class IdentityStore {
  readonly #kv: KeyValueStore

  /** The identities kept in `kv`. */
  constructor (kv: KeyValueStore) {
    this.#kv = kv
  }

  /**
   * The identity called `name`, or undefined when there is none. A stored key that does not decode
   * throws: a node must never quietly become someone else.
   */
  async load (name: string): Promise<PrivateKey | undefined> {
    const bytes = await this.#kv.load(keyOf(name))
    return bytes === undefined ? undefined : privateKeyFromProtobuf(bytes)
  }

  /** Keeps `key` as the identity called `name`, replacing any earlier one. */
  async save (name: string, key: PrivateKey): Promise<void> {
    await this.#kv.save(keyOf(name), privateKeyToProtobuf(key))
  }

  /** The identity called `name`; a new Ed25519 key, kept, when there is none yet. */
  async loadOrCreate (name: string): Promise<PrivateKey> {
    const kept = await this.load(name)
    if (kept !== undefined) return kept
    const key = await generateKeyPair('Ed25519')
    await this.save(name, key)
    return key
  }
}

const keyOf = (name: string): StorageKey => ['identity', name]
