/**
 * How protocol code checks a signature by a peer id: with the key the id embeds (Ed25519). The
 * default is libp2p's, which works everywhere; a Node process that checks many (a relay) passes
 * its own (`relay/ed25519.ts`).
 */
import { peerIdFromString } from '@libp2p/peer-id'
import type { PeerId } from '@libp2p/interface'

/**
 * True when `sig` is `signer`'s signature over `data`; false for any failure, including an id
 * without an embedded key. `remember`: the signer will come back (a relay), so caching its key pays.
 */
export type VerifySignature = (signer: PeerId | string, data: Uint8Array, sig: Uint8Array, remember?: boolean) => Promise<boolean>

/** `VerifySignature` with libp2p's key of the peer id. */
export const verifyWithPeerKey: VerifySignature = async (signer, data, sig) => {
  try {
    const key = (typeof signer === 'string' ? peerIdFromString(signer) : signer).publicKey
    return key !== undefined && await key.verify(data, sig)
  } catch {
    return false
  }
}
