import { describe, expect, it } from 'vitest'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { verifyOffThread } from './ed25519.ts'
import { verifyWithPeerKey } from '../src/net/protocols/signature.ts'

describe('verifyOffThread', () => {
  it('agrees with libp2p on good, altered and foreign signatures, remembered or not', async () => {
    const [a, b] = await Promise.all([generateKeyPair('Ed25519'), generateKeyPair('Ed25519')])
    const ida = peerIdFromPrivateKey(a)
    const data = new TextEncoder().encode('shardfarm-directory-record/1:{"seq":1}')
    const sig = await a.sign(data)
    const altered = Uint8Array.from(data)
    altered[5]! ^= 1
    const cases: Array<[string | typeof ida, Uint8Array, Uint8Array, boolean]> = [
      [ida, data, sig, true],
      [ida.toString(), data, sig, true],
      [ida, altered, sig, false],
      [peerIdFromPrivateKey(b).toString(), data, sig, false],
      [ida, data, sig.subarray(0, 63), false],
      ['not a peer id', data, sig, false],
      ['QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N', data, sig, false] // RSA-style id: no embedded key
    ]
    for (const remember of [false, true, true]) {
      for (const [signer, d, s, want] of cases) {
        expect(await verifyOffThread(signer, d, s, remember)).toBe(want)
        expect(await verifyWithPeerKey(signer, d, s)).toBe(want)
      }
    }
  })
})
