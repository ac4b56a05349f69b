import { describe, it, expect } from 'vitest'
import { decryptSegment, encryptSegment, generateFileId, generateFileKey, importFileKey, openBytes, sealBytes, TAG_BYTES } from './envelope.ts'

describe('crypto envelope (AES-256-GCM)', () => {
  it('round-trips a segment; ciphertext is plaintext + 16 bytes and reveals nothing obvious', async () => {
    const key = await importFileKey(generateFileKey())
    const fileId = generateFileId()
    const plain = new TextEncoder().encode('attack at dawn '.repeat(100))
    const ct = await encryptSegment(key, fileId, 3, 10, plain)
    expect(ct.length).toBe(plain.length + TAG_BYTES)
    expect(new TextDecoder().decode(ct)).not.toContain('attack')
    expect(await decryptSegment(key, fileId, 3, 10, ct)).toEqual(plain)
  })

  it('a wrong key, a flipped bit, another index, count or file id all fail authentication', async () => {
    const raw = generateFileKey()
    const key = await importFileKey(raw)
    const fileId = generateFileId()
    const ct = await encryptSegment(key, fileId, 1, 4, new Uint8Array(1000).fill(7))
    const other = raw.slice(); other[0]! ^= 1
    const otherKey = await importFileKey(other)
    // Thunks, not promises: each rejection is awaited as soon as it exists.
    const cases: Array<() => Promise<unknown>> = [
      async () => await decryptSegment(otherKey, fileId, 1, 4, ct),
      async () => await decryptSegment(key, fileId, 2, 4, ct), // reordered
      async () => await decryptSegment(key, fileId, 1, 5, ct), // truncated or extended file
      async () => await decryptSegment(key, generateFileId(), 1, 4, ct), // swapped in from another file
      async () => { const t = ct.slice(); t[500]! ^= 0x80; return await decryptSegment(key, fileId, 1, 4, t) },
      async () => await decryptSegment(key, fileId, 1, 4, ct.subarray(0, 10))
    ]
    for (const c of cases) await expect(c()).rejects.toMatchObject({ name: 'AuthenticationError', code: 'AUTHENTICATION_FAILED' })
  })

  it('segment and manifest nonces never collide, and sealed bytes open only for their file', async () => {
    const key = await importFileKey(generateFileKey())
    const fileId = generateFileId()
    const data = new Uint8Array(64)
    const seg0 = await encryptSegment(key, fileId, 0, 1, data)
    const sealed = await sealBytes(key, fileId, data)
    expect(seg0).not.toEqual(sealed)
    expect(await openBytes(key, fileId, sealed)).toEqual(data)
    await expect(openBytes(key, generateFileId(), sealed)).rejects.toMatchObject({ name: 'AuthenticationError' })
    await expect(encryptSegment(key, fileId, 1, 1, data)).rejects.toThrow(RangeError)
  })
})
