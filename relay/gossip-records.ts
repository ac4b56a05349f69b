/**
 * What relays of a federation tell each other, on gossipsub topic `DIRECTORY_TOPIC` and in sync
 * pages (`src/net/protocols/directory-sync.ts`): one JSON object per message, at most
 * `MAX_GOSSIP_BYTES`.
 *   `{ t: 'farmer', signed, admission, by }`  a farmer-signed record with the admission relay `by` signed
 *   `{ t: 'gone', signed }`                   a farmer-signed leave (`FarmerTombstone`)
 *   `{ t: 'withdraw', peerId, seq, by, sig }` relay `by` withdraws the listing it admitted (a bare leave)
 *   `{ t: 'relay', signed }`                  a relay's signed record of itself (`RelayRecord`)
 * Everything is checked with nothing but the signer's peer id (the key is inside it), so a message
 * means the same whoever forwarded it. What a receiver does with a valid message (seq rules, caps)
 * is `federation.ts`'s.
 */
import type { PrivateKey } from '@libp2p/interface'
import { fromHex, toHex } from '../src/core/hash.ts'
import { verifyWithPeerKey, type VerifySignature } from '../src/net/protocols/signature.ts'
import { admissionFields, verifyAdmission, type Admission } from '../src/net/protocols/directory-admission.ts'
import { MAX_RELAY_ADDRS, openSignedRecord } from '../src/net/protocols/directory.ts'
import type { FarmerRecord, FarmerTombstone, SignedFarmerRecord } from '../src/net/protocols/directory.ts'

/** The gossipsub topic of farmer and relay records. */
export const DIRECTORY_TOPIC = '/shardfarm/directory/records/1'
/** Largest message: a record of 8 addresses of 256 bytes, its signature and an admission fit in 4 KiB. */
export const MAX_GOSSIP_BYTES = 8 * 1024
const RELAY_DOMAIN = 'shardfarm-relay-record/1:'
const WITHDRAW_DOMAIN = 'shardfarm-directory-withdraw/1:'

/** A relay's record of itself: where to dial it, with its clock as seq. */
export interface RelayRecord { peerId: string, addrs: string[], seq: number }

/** One checked message. */
export type GossipItem =
  | { t: 'farmer', record: FarmerRecord, signed: SignedFarmerRecord, admission: Admission, by: string }
  | { t: 'gone', record: FarmerTombstone, signed: SignedFarmerRecord }
  | { t: 'withdraw', peerId: string, seq: number, by: string, sig: string }
  | { t: 'relay', record: RelayRecord, signed: SignedFarmerRecord }

/** A refused message: `reject` for what no honest relay sends (gossipsub then penalises the sender). */
export interface GossipRefused { t: 'refused', reason: string }

class GossipRefusal extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'GossipRefusal'
  }
}

const enc = (x: string): Uint8Array => new TextEncoder().encode(x)
const reject = (m: string): GossipRefusal => new GossipRefusal(m)

/** Signs this relay's record of itself. */
export async function signRelayRecord (key: PrivateKey, record: RelayRecord): Promise<SignedFarmerRecord> {
  const text = JSON.stringify(record)
  return { record: text, sig: toHex(await key.sign(enc(RELAY_DOMAIN + text))) }
}

/** Signs relay `by`'s withdrawal of the listing of `peerId` at `seq`. */
export async function signWithdrawal (key: PrivateKey, peerId: string, seq: number): Promise<string> {
  return toHex(await key.sign(enc(WITHDRAW_DOMAIN + JSON.stringify([peerId, seq]))))
}

/** Encodes a message, or undefined when it would exceed `MAX_GOSSIP_BYTES` (it is then not sent). */
export function encodeGossip (msg: object): Uint8Array | undefined {
  const bytes = enc(JSON.stringify(msg))
  return bytes.byteLength <= MAX_GOSSIP_BYTES ? bytes : undefined
}

/** Parses and checks one message's bytes. */
export async function openGossip (data: Uint8Array, verify: VerifySignature = verifyWithPeerKey): Promise<GossipItem | GossipRefused> {
  if (data.byteLength > MAX_GOSSIP_BYTES) return { t: 'refused', reason: 'message too large' }
  let msg: unknown
  try { msg = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(data)) } catch { return { t: 'refused', reason: 'message is not UTF-8 JSON' } }
  return await checkGossip(msg, verify)
}

/** Checks one message already parsed (a sync page's items). */
export async function checkGossip (msg: unknown, verify: VerifySignature = verifyWithPeerKey): Promise<GossipItem | GossipRefused> {
  try {
    return await check(msg, verify)
  } catch (err) {
    if (err instanceof GossipRefusal) return { t: 'refused', reason: err.message }
    throw err
  }
}

async function check (msg: unknown, verify: VerifySignature): Promise<GossipItem> {
  if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) throw reject('message must be an object')
  const m = msg as Record<string, unknown>
  switch (m.t) {
    case 'farmer': {
      const record = await open(m.signed, verify)
      if ('gone' in record) throw reject('a farmer message carries a record, not a leave')
      const admission = typeof m.admission === 'object' && m.admission !== null ? admissionFields(m.admission as Record<string, unknown>) : undefined
      if (admission === undefined || typeof m.by !== 'string') throw reject('a farmer message carries an admission and its relay')
      if (!await verifyAdmission(m.by, record.peerId, admission, verify)) throw reject('bad admission signature')
      return { t: 'farmer', record, signed: copy(m.signed), admission, by: m.by }
    }
    case 'gone': {
      const record = await open(m.signed, verify)
      if (!('gone' in record)) throw reject('a gone message carries a leave')
      return { t: 'gone', record, signed: copy(m.signed) }
    }
    case 'withdraw': {
      const { peerId, seq, by, sig } = m
      if (typeof peerId !== 'string' || peerId.length > 128 || !Number.isSafeInteger(seq) || (seq as number) < 0 ||
        typeof by !== 'string' || typeof sig !== 'string' || !/^[0-9a-f]{128}$/.test(sig)) throw reject('malformed withdrawal')
      if (!await verifyText(verify, by, WITHDRAW_DOMAIN + JSON.stringify([peerId, seq]), sig)) throw reject('bad withdrawal signature')
      return { t: 'withdraw', peerId, seq: seq as number, by, sig }
    }
    case 'relay': {
      const s = m.signed as Record<string, unknown> | undefined
      if (typeof s?.record !== 'string' || typeof s.sig !== 'string' || !/^[0-9a-f]{128}$/.test(s.sig) || s.record.length > MAX_GOSSIP_BYTES) throw reject('malformed relay record')
      let r: unknown
      try { r = JSON.parse(s.record) } catch { throw reject('relay record is not JSON') }
      const record = relayRecord(r)
      if (!await verifyText(verify, record.peerId, RELAY_DOMAIN + s.record, s.sig)) throw reject('bad relay record signature')
      return { t: 'relay', record, signed: { record: s.record, sig: s.sig } }
    }
    default: throw reject('unknown message type')
  }
}

async function open (signed: unknown, verify: VerifySignature): Promise<FarmerRecord | FarmerTombstone> {
  try {
    return await openSignedRecord(signed, verify)
  } catch (err) {
    throw reject((err as Error).message)
  }
}

const copy = (s: unknown): SignedFarmerRecord => ({ record: (s as SignedFarmerRecord).record, sig: (s as SignedFarmerRecord).sig })

/** A relay's signature over `text` (relays come back: their keys are worth keeping). */
async function verifyText (verify: VerifySignature, peerId: string, text: string, sig: string): Promise<boolean> {
  return await verify(peerId, enc(text), fromHex(sig), true)
}

function relayRecord (r: unknown): RelayRecord {
  if (typeof r !== 'object' || r === null) throw reject('relay record must be an object')
  const { peerId, addrs, seq } = r as Record<string, unknown>
  if (typeof peerId !== 'string' || peerId.length > 128 || !Number.isSafeInteger(seq) || (seq as number) < 0) throw reject('malformed relay record')
  if (!Array.isArray(addrs) || addrs.length < 1 || addrs.length > MAX_RELAY_ADDRS ||
    !addrs.every(a => typeof a === 'string' && a.length <= 256 && /^[\x21-\x7e]+$/.test(a) && a.endsWith(`/p2p/${peerId}`))) {
    throw reject(`relay record addrs must be 1-${MAX_RELAY_ADDRS} multiaddrs ending in /p2p/<its peer id>`)
  }
  return { peerId, addrs: addrs as string[], seq: seq as number }
}
