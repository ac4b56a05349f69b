import { afterEach, describe, expect, it } from 'vitest'
import { sha256, sha256Hex, useSha256Engine } from '../../core/hash.ts'
import { installNodeEngines, nodeSha256 } from './hash.node.ts'

const webcrypto = async (b: Uint8Array): Promise<Uint8Array> =>
  new Uint8Array(await crypto.subtle.digest('SHA-256', b.buffer instanceof ArrayBuffer ? b as Uint8Array<ArrayBuffer> : b.slice()))

describe('node:crypto SHA-256 engine', () => {
  afterEach(() => { useSha256Engine(undefined) })

  it('gives the WebCrypto digest for empty, odd-sized, offset and shared-memory views', async () => {
    const big = new Uint8Array(3 * 1024 * 1024 + 17).map((_, i) => (i * 31 + 7) & 0xff)
    const shared = new Uint8Array(new SharedArrayBuffer(1000), 100, 777)
    shared.set(big.subarray(0, 777))
    for (const v of [new Uint8Array(0), Uint8Array.of(1), big, big.subarray(5, 1 << 20), shared]) {
      expect(nodeSha256(v)).toEqual(await webcrypto(v))
    }
  })

  it('returns its own 32 bytes, not a view of a shared pool', () => {
    const d = nodeSha256(Uint8Array.of(1, 2, 3))
    expect(d.byteLength).toBe(32)
    expect(d.buffer.byteLength).toBe(32)
  })

  it('once installed, the core hashes through it (and back to WebCrypto when removed)', async () => {
    const bytes = new TextEncoder().encode('abc')
    const expected = 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'
    let calls = 0
    useSha256Engine(b => { calls++; return nodeSha256(b) })
    expect(await sha256Hex(bytes)).toBe(expected)
    expect(calls).toBe(1)
    installNodeEngines()
    expect(await sha256Hex(bytes)).toBe(expected)
    expect(calls).toBe(1)
    useSha256Engine(undefined)
    expect(await sha256(bytes)).toEqual(await webcrypto(bytes))
  })
})
