import { afterEach, describe, expect, it, vi } from 'vitest'
import { decodeBase64, encodeBase64, useBase64Engine } from '../../core/base64.ts'
import { nodeBase64 } from './base64.node.ts'
import { installNodeEngines } from './hash.node.ts'

describe('nodeBase64', () => {
  afterEach(() => { useBase64Engine(undefined); vi.restoreAllMocks() })

  it('codes views as the portable coder does, and decodes into bytes of its own', () => {
    const whole = Uint8Array.from({ length: 3000 }, (_, i) => (i * 7) & 255)
    for (const view of [whole, whole.subarray(1, 2001), whole.subarray(5, 7)]) {
      const text = encodeBase64(view) // portable
      expect(nodeBase64.encode(view)).toBe(text)
      const back = nodeBase64.decode(text)
      expect(back).toEqual(view)
      expect(back.byteLength).toBe(back.buffer.byteLength) // not a slice of Buffer's pool
    }
  })

  it('is what installNodeEngines installs, behind the core\'s checks', () => {
    const encode = vi.spyOn(nodeBase64, 'encode')
    const decode = vi.spyOn(nodeBase64, 'decode')
    installNodeEngines()
    expect(encodeBase64(Uint8Array.of(65, 66))).toBe('QUI=')
    expect(decodeBase64('QUI=')).toEqual(Uint8Array.of(65, 66))
    expect(decodeBase64('QUJ=')).toBeUndefined() // bits left over: refused before the engine sees it
    expect(encode).toHaveBeenCalledTimes(1)
    expect(decode).toHaveBeenCalledTimes(1)
  })
})
