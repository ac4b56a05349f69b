import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import type { Libp2p } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { queryDirectory } from '../../net/protocols/directory.ts'
import { FarmerClient, type FarmerClientInit, type GetOptions } from './farmer-client.ts'
import type { CallOptions, Farmer, FarmerDirectory, FarmerRef, FragmentTransport } from '../ports.ts'
import type { OwnerKey } from '../../core/owner-key.ts'

/**
 * The pipelines' ports over libp2p: fragments through `FarmerClient`, farmers from the relay's
 * directory. Platform-neutral (the browser wires the same classes to its own libp2p node).
 */
export class Libp2pTransport implements FragmentTransport {
  readonly client: FarmerClient
  /** `FarmerClient.get` refuses bytes that do not hash to the id (`HASH_MISMATCH`). */
  readonly verifiesHashes = true

  constructor (libp2p: Libp2p, init: FarmerClientInit = {}) {
    this.client = new FarmerClient({ libp2p }, init)
  }

  async put (f: FarmerRef, id: string, bytes: Uint8Array, options: CallOptions & { owner?: Pick<OwnerKey, 'publicKey'> } = {}): Promise<void> {
    await this.client.put(target(f), id, bytes, options)
  }

  async get (f: FarmerRef, id: string, options: GetOptions = {}): Promise<Uint8Array> {
    return await this.client.get(target(f), id, options)
  }

  async has (f: FarmerRef, ids: string[], options: CallOptions = {}): Promise<boolean[]> {
    return await this.client.has(target(f), ids, options)
  }

  async delete (f: FarmerRef, id: string, owner: OwnerKey, options: CallOptions = {}): Promise<void> {
    await this.client.delete(target(f), id, owner, options)
  }
}

/** Farmers as the relay's directory lists them. */
export class RelayDirectory implements FarmerDirectory {
  readonly #libp2p: Libp2p
  readonly #relay: Multiaddr

  constructor (libp2p: Libp2p, relay: string | Multiaddr) {
    this.#libp2p = libp2p
    this.#relay = typeof relay === 'string' ? multiaddr(relay) : relay
  }

  /**
   * Queries the directory. A query is read-only, so a transport failure (a stream reset or closed
   * early, as happens under load) is retried twice before it counts; a refusal is not retried.
   */
  async list (options: CallOptions = {}): Promise<Farmer[]> {
    for (let attempt = 0; ; attempt++) {
      try {
        const listings = await queryDirectory(this.#libp2p, this.#relay, { limit: 1000 }, options)
        return listings.map(l => ({ peerId: l.peerId, addrs: l.addrs, region: l.region, tier: l.tier, kind: l.kind, free: l.free }))
      } catch (err) {
        const name = (err as Error).name
        if (attempt >= 2 || options.signal?.aborted === true || name === 'DirectoryError' || name === 'AbortError') throw err
        await new Promise(resolve => setTimeout(resolve, 200 * (attempt + 1)))
      }
    }
  }
}

/** A dialable target: the first address that names the peer, else the peer id (libp2p's peer store). */
function target (f: FarmerRef): Multiaddr | ReturnType<typeof peerIdFromString> {
  const a = f.addrs.find(x => x.endsWith(`/p2p/${f.peerId}`)) ?? f.addrs[0]
  return a === undefined ? peerIdFromString(f.peerId) : multiaddr(a.includes('/p2p/') ? a : `${a}/p2p/${f.peerId}`)
}
