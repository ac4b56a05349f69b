/**
 * Admission records: what a relay vouches for about each farmer it lists, signed with the relay's
 * own libp2p key. A farmer cannot make one up (its announce is about itself, and claims are free),
 * so the fields placement trusts for its Sybil rules come from here:
 * - `firstSeen`: when the relay first heard the peer id announce (kept across relay restarts);
 * - `subnet`: the network (/24, /48, `subnetOf`) of the connection the last announce came on;
 * - `vettedAt`: `firstSeen` + the relay's vetting period: before it, a farmer is new.
 *
 * The signature covers `ADMISSION_DOMAIN` plus the JSON text of `[peerId, firstSeen, subnet,
 * vettedAt]`, so it checks with nothing but the relay's peer id (a client has it from the relay's
 * multiaddr; relays gossiping later have each other's), and a listing moved to another farmer, or
 * with a field changed, fails.
 */
import { verifyWithPeerKey, type VerifySignature } from './signature.ts'
import type { PrivateKey } from '@libp2p/interface'
import { fromHex, toHex } from '../../core/hash.ts'

/** Prefix of every admission signature, so it cannot be replayed as any other signed text. */
export const ADMISSION_DOMAIN = 'shardfarm-directory-admission/1:'
/** Longest subnet text a listing may carry (`ffff:ffff:ffff::/48` is 19). */
export const MAX_SUBNET_CHARS = 48

/** What the relay signs about one farmer. */
export interface Admission {
  /** Relay clock (ms) when the relay first saw the farmer announce. */
  firstSeen: number
  /** Network the relay saw the farmer announce from (`subnetOf`). */
  subnet: string
  /** `firstSeen` + the relay's vetting period (ms). */
  vettedAt: number
  /** The relay's Ed25519 signature, 128 hex characters. */
  admission: string
}

function payload (peerId: string, a: Omit<Admission, 'admission'>): Uint8Array {
  return new TextEncoder().encode(ADMISSION_DOMAIN + JSON.stringify([peerId, a.firstSeen, a.subnet, a.vettedAt]))
}

/** Signs the admission of `peerId` with the relay's key. */
export async function signAdmission (key: PrivateKey, peerId: string, a: Omit<Admission, 'admission'>): Promise<Admission> {
  return { firstSeen: a.firstSeen, subnet: a.subnet, vettedAt: a.vettedAt, admission: toHex(await key.sign(payload(peerId, a))) }
}

/** The admission fields of a listing, when they have the right shapes; else undefined. */
export function admissionFields (l: Record<string, unknown>): Admission | undefined {
  const { firstSeen, subnet, vettedAt, admission } = l
  if (!Number.isSafeInteger(firstSeen) || (firstSeen as number) < 0 || !Number.isSafeInteger(vettedAt) || (vettedAt as number) < 0) return undefined
  if (typeof subnet !== 'string' || !/^[0-9a-z.:/?-]{1,48}$/.test(subnet)) return undefined
  if (typeof admission !== 'string' || !/^[0-9a-f]{128}$/.test(admission)) return undefined
  return { firstSeen: firstSeen as number, subnet, vettedAt: vettedAt as number, admission }
}

/**
 * True when `a` is `relay`'s signature over `peerId`'s admission. False for any other relay, a
 * changed field, a malformed signature, or a relay peer id without an embedded key.
 */
export async function verifyAdmission (relay: string, peerId: string, a: Admission, verify: VerifySignature = verifyWithPeerKey): Promise<boolean> {
  let sig: Uint8Array
  try { sig = fromHex(a.admission) } catch { return false }
  return await verify(relay, payload(peerId, a), sig, true)
}

/**
 * The admission check of a federated directory: a listing learned by gossip carries the admission
 * of the relay that admitted the farmer (`admittedBy`), not of the relay that answered. It counts
 * when its signer is the answering relay, or a relay the answering relay lists in the same answer
 * (`DirectoryPage.relays`): the client already trusts the answering relay with the whole list, so
 * it trusts it to name its federation too. Any other signer (a relay nobody listed) fails, and the
 * farmer then counts as new.
 */
export async function verifyFederatedAdmission (answering: string, listed: readonly string[], peerId: string, a: Admission, admittedBy?: string): Promise<boolean> {
  const signer = admittedBy ?? answering
  if (signer !== answering && !listed.includes(signer)) return false
  return await verifyAdmission(signer, peerId, a)
}
