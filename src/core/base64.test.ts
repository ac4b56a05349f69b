import { afterEach, describe, expect, it } from 'vitest'
import { decodeBase64, encodeBase64, useBase64Engine, type Base64Engine } from './base64.ts'

/** An engine as a platform installs one: it trusts its input, so `decodeBase64` must check it first. */
const trusting: Base64Engine = {
  encode: bytes => Buffer.from(bytes).toString('base64'),
  decode: text => Uint8Array.from(Buffer.from(text, 'base64'))
}

describe.each<[string, Base64Engine | undefined]>([['portable', undefined], ['with an engine installed', trusting]])('base64, %s', (_, engine) => {
  afterEach(() => { useBase64Engine(undefined) })

  it('matches Node\'s encoding both ways for every length up to 40 000 bytes tried', () => {
    useBase64Engine(engine)
    for (const n of [0, 1, 2, 3, 4, 5, 31, 32, 33, 1024, 12_287, 12_288, 12_289, 40_000]) {
      const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 131 + n) & 255)
      const text = Buffer.from(bytes).toString('base64')
      expect(encodeBase64(bytes)).toBe(text)
      expect(encodeBase64(bytes.subarray(1))).toBe(Buffer.from(bytes.subarray(1)).toString('base64')) // a view, not its whole buffer
      expect(decodeBase64(text)).toEqual(bytes)
    }
  })

  it('refuses what is not standard padded base64, padding bits included', () => {
    useBase64Engine(engine)
    for (const bad of ['A', 'AB', 'ABC', 'AB=A', '====', 'A===', 'AB-_', 'AB\u00e9A', 'ABC ', 'AB==AAAA', 'AB=C', 'QR==', 'QUJ=', 'QUI', '=QUI', 'QU I=', 'QUI=\n']) {
      expect(decodeBase64(bad), bad).toBeUndefined()
    }
    expect(decodeBase64('QQ==')).toEqual(Uint8Array.of(65))
    expect(decodeBase64('QUI=')).toEqual(Uint8Array.of(65, 66))
    expect(decodeBase64('')).toEqual(new Uint8Array(0))
  })
})
