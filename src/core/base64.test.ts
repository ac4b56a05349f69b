import { describe, expect, it } from 'vitest'
import { decodeBase64, encodeBase64 } from './base64.ts'

describe('base64', () => {
  it('matches Node\'s encoding both ways for every length up to 40 000 bytes tried', () => {
    for (const n of [0, 1, 2, 3, 4, 5, 31, 32, 33, 1024, 12_287, 12_288, 12_289, 40_000]) {
      const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 131 + n) & 255)
      const text = Buffer.from(bytes).toString('base64')
      expect(encodeBase64(bytes)).toBe(text)
      expect(decodeBase64(text)).toEqual(bytes)
    }
  })

  it('refuses what is not standard padded base64', () => {
    for (const bad of ['A', 'AB', 'ABC', 'AB=A', '====', 'A===', 'AB-_', 'AB\u00e9A', 'ABC ', 'AB==AAAA', 'AB=C', 'QR==', 'QUJ=']) {
      expect(decodeBase64(bad), bad).toBeUndefined()
    }
    expect(decodeBase64('QQ==')).toEqual(Uint8Array.of(65))
    expect(decodeBase64('QUI=')).toEqual(Uint8Array.of(65, 66))
  })
})
