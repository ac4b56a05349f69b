/**
 * The light farmer's libp2p identity, kept in the app's store so that its peer id (and the holder
 * id of every fragment it stores) survives reloads.
 */
import { privateKeyFromProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { IdentityStore } from '../../stores/identity.ts'
import { appStore, takeLegacyDatabase } from './app-store.ts'

/** The farmer's identity's name in the app's `IdentityStore`. */
export const FARMER_IDENTITY = 'farmer'

/** Where versions before the app's one store kept it: the key's protobuf under `farmer` in `keys`. */
const LEGACY_DATABASE = 'shardfarm-identity'

/** This browser's farmer identity, made on first use; an earlier version's is taken over. */
export async function loadFarmerKey (): Promise<PrivateKey> {
  const identities = new IdentityStore(await appStore())
  await takeLegacyDatabase(LEGACY_DATABASE,
    async db => db.objectStoreNames.contains('keys') ? await db.get('keys', 'farmer') as unknown : undefined,
    async raw => {
      if (raw instanceof Uint8Array && await identities.load(FARMER_IDENTITY) === undefined) {
        await identities.save(FARMER_IDENTITY, privateKeyFromProtobuf(raw))
      }
    })
  return await identities.loadOrCreate(FARMER_IDENTITY)
}
