import { describe, it, expect } from 'vitest'
import { deriveVerifyKey } from './envelope.ts'
import { base64url, capabilityUrl, formatCapability, fromBase64url, parseCapability, verifyCapability, type Capability } from './capability.ts'

const peers = ['12D3KooWBhmRDBv4mjKkPvFU1bm5jFWZ9Jo1N8uo8vCEy2Zq9Pb3', '12D3KooWNYCaNv6q6KxQNK4fGhrj2n4cRXvUh7Q3v8PGdXTpn1zM']
const cap: Capability = {
  kind: 'read',
  fileId: Uint8Array.from({ length: 16 }, (_, i) => i),
  manifestId: 'ab'.repeat(32),
  key: Uint8Array.from({ length: 32 }, (_, i) => 255 - i),
  holders: peers
}

describe('capabilities', () => {
  it('round-trips as shardfarm: text and as a web link whose key sits after #', () => {
    const text = formatCapability(cap)
    expect(text.startsWith('shardfarm:r1:')).toBe(true)
    expect(parseCapability(text)).toEqual(cap)
    const url = capabilityUrl(cap, 'http://127.0.0.1:5173/app?x=1#old')
    expect(url.split('#')[0]).toBe('http://127.0.0.1:5173/app?x=1')
    expect(parseCapability(url)).toEqual(cap)
  })

  it('a version-1 verify capability carries no key', async () => {
    const v = await verifyCapability(cap)
    const text = formatCapability(v)
    expect(text.startsWith('shardfarm:v1:')).toBe(true)
    expect(text.length).toBeLessThan(formatCapability(cap).length)
    expect(parseCapability(text).key).toBeUndefined()
    expect(parseCapability(text).verifyKey).toBeUndefined()
  })

  it('a version-2 verify capability carries the derived verify key, never the file key', async () => {
    const read: Capability = { ...cap, version: 2 }
    expect(formatCapability(read).startsWith('shardfarm:r2:')).toBe(true)
    expect(parseCapability(formatCapability(read))).toEqual(read)
    const v = await verifyCapability(read)
    expect(v).toEqual({ kind: 'verify', version: 2, fileId: cap.fileId, manifestId: cap.manifestId, holders: peers, verifyKey: await deriveVerifyKey(cap.key!) })
    const text = formatCapability(v)
    expect(text.startsWith('shardfarm:v2:')).toBe(true)
    expect(parseCapability(text)).toEqual(v)
    // The link's bytes hold the verify key and not the file key; another file key derives another verify key.
    const body = fromBase64url(text.split(':')[2]!)
    expect(Buffer.from(body).includes(Buffer.from(cap.key!))).toBe(false)
    expect(Buffer.from(body).includes(Buffer.from(v.verifyKey!))).toBe(true)
    expect(await deriveVerifyKey(new Uint8Array(32))).not.toEqual(v.verifyKey)
    expect(await verifyCapability(v)).toBe(v)
  })

  it('malformed links give CapabilityError with the reason', () => {
    const good = formatCapability(cap)
    const [, , body] = good.split(':')
    for (const [input, reason] of [
      ['hello', /expected shardfarm/],
      [good.replace(':r1:', ':x9:'), /unknown capability type "x9"/],
      [good.replace(body!, body!.slice(0, -4)), /expected 80/],
      [good.replace(body!, body! + '!'), /not base64url/],
      [good.replace(peers[0]!, '../../etc'), /farmer id in it is malformed/],
      [`shardfarm:r1:${body}:`, /names no farmer/]
    ] as const) {
      expect(() => parseCapability(input)).toThrow(expect.objectContaining({ name: 'CapabilityError', message: expect.stringMatching(reason) }))
    }
  })

  it('base64url matches the platform encoder', () => {
    for (let n = 0; n < 40; n++) {
      const b = Uint8Array.from({ length: n }, (_, i) => (i * 37 + n) & 255)
      expect(base64url(b)).toBe(Buffer.from(b).toString('base64url'))
      expect(fromBase64url(base64url(b))).toEqual(b)
    }
  })
})
