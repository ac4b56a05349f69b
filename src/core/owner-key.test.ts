import { describe, expect, it } from 'vitest'
import { isOwnerKey } from './fragment-store.ts'
import { deleteMessage, generateOwnerKey, newNonce, ownerKeyFromSeed, signDelete, verifyDelete } from './owner-key.ts'

const claim = { id: 'ab'.repeat(32), farmer: '12D3KooWfarmer', ts: 1_700_000_000_000, nonce: newNonce() }

describe('owner keys', () => {
  it('makes canonical public keys that FragmentMeta accepts', async () => {
    expect(isOwnerKey((await generateOwnerKey()).publicKey)).toBe(true)
  })

  it('derives the same key from the same seed', async () => {
    const seed = new Uint8Array(32).fill(7)
    const a = await ownerKeyFromSeed(seed)
    const b = await ownerKeyFromSeed(seed)
    expect(a.publicKey).toBe(b.publicKey)
    expect(await verifyDelete(a.publicKey, claim, await signDelete(b, claim))).toBe(true)
    await expect(ownerKeyFromSeed(new Uint8Array(31))).rejects.toMatchObject({ code: 'BAD_REQUEST' })
  })

  it('verifies only the exact claim, by the exact key', async () => {
    const key = await generateOwnerKey()
    const sig = await signDelete(key, claim)
    expect(await verifyDelete(key.publicKey, claim, sig)).toBe(true)
    for (const change of [{ id: 'cd'.repeat(32) }, { farmer: '12D3KooWother' }, { ts: claim.ts + 1 }, { nonce: newNonce() }]) {
      expect(await verifyDelete(key.publicKey, { ...claim, ...change }, sig)).toBe(false)
    }
    expect(await verifyDelete((await generateOwnerKey()).publicKey, claim, sig)).toBe(false)
    expect(await verifyDelete('not base64!', claim, sig)).toBe(false)
    expect(await verifyDelete(key.publicKey, claim, 'AAAA')).toBe(false)
  })

  it('signs a documented, domain-separated message', () => {
    expect(new TextDecoder().decode(deleteMessage(claim)))
      .toBe(`/shardfarm/fragment/1.0.0 DELETE\n${claim.id}\n${claim.farmer}\n${claim.ts}\n${claim.nonce}`)
  })
})
