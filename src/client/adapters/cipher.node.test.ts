import { describe, expect, it } from 'vitest'
import { decryptSegment, encryptSegment, generateFileId, generateFileKey, importFileKey } from '../../core/envelope.ts'
import { nodeSegmentCipher } from './cipher.node.ts'

describe('the Node segment cipher (node:crypto)', () => {
  it('is byte-compatible with WebCrypto both ways, and refuses what WebCrypto refuses', async () => {
    const key = await importFileKey(generateFileKey())
    const fileId = generateFileId()
    const plain = new Uint8Array(100_000).map((_, i) => (i * 7919) & 255)
    const web = await encryptSegment(key, fileId, 2, 5, plain)
    const fast = await encryptSegment(key, fileId, 2, 5, plain, nodeSegmentCipher)
    expect(fast).toEqual(web)
    const back = await decryptSegment(key, fileId, 2, 5, web, nodeSegmentCipher)
    expect(back).toEqual(plain)
    expect(back.buffer.byteLength).toBe(plain.length) // a buffer of its own, so the pipeline may free it
    expect(await decryptSegment(key, fileId, 2, 5, fast)).toEqual(plain)
    for (const size of [0, 1, 65_536, 196_613]) { // empty, one slice exactly, several slices and a short one
      const p = new Uint8Array(size).map((_, i) => (i * 31) & 255)
      const c = await encryptSegment(key, fileId, 0, 1, p, nodeSegmentCipher)
      expect(c).toEqual(await encryptSegment(key, fileId, 0, 1, p))
      expect(await decryptSegment(key, fileId, 0, 1, c, nodeSegmentCipher)).toEqual(p)
    }
    // Into a given buffer (the upload's recycled segment buffer): the same bytes, written there.
    const into = new Uint8Array(plain.length + 16).fill(0xaa)
    expect(await encryptSegment(key, fileId, 2, 5, plain, nodeSegmentCipher, into)).toBe(into)
    expect(into).toEqual(web)
    const viaWeb = new Uint8Array(plain.length + 16)
    expect(await encryptSegment(key, fileId, 2, 5, plain, undefined, viaWeb)).toBe(viaWeb) // WebCrypto's result copied in
    expect(viaWeb).toEqual(web)
    await expect(encryptSegment(key, fileId, 2, 5, plain, nodeSegmentCipher, new Uint8Array(plain.length))).rejects.toThrow(RangeError)
    const plainInto = new Uint8Array(plain.length)
    expect(await decryptSegment(key, fileId, 2, 5, web, nodeSegmentCipher, plainInto)).toBe(plainInto)
    expect(plainInto).toEqual(plain)
    const flipped = fast.slice(); flipped[500]! ^= 1
    await expect(decryptSegment(key, fileId, 2, 5, flipped, nodeSegmentCipher)).rejects.toMatchObject({ name: 'AuthenticationError' })
    await expect(decryptSegment(key, fileId, 2, 5, flipped, nodeSegmentCipher, plainInto)).rejects.toMatchObject({ name: 'AuthenticationError' })
    expect(plainInto.every(b => b === 0)).toBe(true) // no unauthenticated plaintext left behind
    await expect(decryptSegment(key, fileId, 3, 5, fast, nodeSegmentCipher)).rejects.toMatchObject({ name: 'AuthenticationError' })
    await expect(decryptSegment(key, fileId, 2, 5, fast.subarray(0, 10), nodeSegmentCipher)).rejects.toMatchObject({ name: 'AuthenticationError' })
    const other = await importFileKey(generateFileKey())
    await expect(decryptSegment(other, fileId, 2, 5, fast, nodeSegmentCipher)).rejects.toMatchObject({ name: 'AuthenticationError' })
  })
})
