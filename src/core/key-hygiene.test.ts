// Keys handed out by the core are not extractable: script that gets hold of a CryptoKey (a page
// extension, an injected script) can use it while the page lives but cannot read its bytes.
import { describe, expect, it } from 'vitest'
import { generateFileKey, importFileKey } from './envelope.ts'
import { generateOwnerKey, newNonce, ownerKeyFromSeed, signDelete, verifyDelete } from './owner-key.ts'

describe('key hygiene', () => {
  it('imports file keys as not extractable, for AES-GCM encrypt/decrypt only', async () => {
    const key = await importFileKey(generateFileKey())
    expect(key.extractable).toBe(false)
    expect([...key.usages].sort()).toEqual(['decrypt', 'encrypt'])
    await expect(crypto.subtle.exportKey('raw', key)).rejects.toThrow()
  })

  it('hands out owner keys from a seed that are not extractable and still sign', async () => {
    const seed = crypto.getRandomValues(new Uint8Array(32))
    const owner = await ownerKeyFromSeed(seed)
    expect(owner.privateKey.extractable).toBe(false)
    expect(owner.privateKey.usages).toEqual(['sign'])
    await expect(crypto.subtle.exportKey('pkcs8', owner.privateKey)).rejects.toThrow()
    await expect(crypto.subtle.exportKey('jwk', owner.privateKey)).rejects.toThrow()
    const claim = { id: 'ab'.repeat(32), farmer: '12D3KooWfarmer', ts: 1_700_000_000_000, nonce: newNonce() }
    expect(await verifyDelete(owner.publicKey, claim, await signDelete(owner, claim))).toBe(true)
    expect((await ownerKeyFromSeed(seed)).publicKey).toBe(owner.publicKey) // the caller's seed is left as it was
  })

  it('generates owner keys whose private half is not extractable', async () => {
    const owner = await generateOwnerKey()
    expect(owner.privateKey.extractable).toBe(false)
    await expect(crypto.subtle.exportKey('pkcs8', owner.privateKey)).rejects.toThrow()
  })
})
