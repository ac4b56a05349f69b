import { describe, expect, it } from 'vitest'
import { RELEASE_MIN_BYTES, releaseBytes } from './release.ts'

describe('releaseBytes', () => {
  it('detaches a buffer once, through any number of views, and reports what it freed', () => {
    const big = new Uint8Array(4 * RELEASE_MIN_BYTES).fill(1)
    const a = big.subarray(0, 10)
    const b = big.subarray(RELEASE_MIN_BYTES)
    expect(releaseBytes(a, b, undefined, big)).toBe(4 * RELEASE_MIN_BYTES)
    expect(big.length).toBe(0)
    expect(a.length).toBe(0)
    expect(b.length).toBe(0)
    expect(releaseBytes(big)).toBe(0) // already gone
  })

  it('leaves small buffers (maybe pooled), shared memory and wasm memory alone', () => {
    const small = new Uint8Array(RELEASE_MIN_BYTES - 1).fill(2)
    const shared = new Uint8Array(new SharedArrayBuffer(2 * RELEASE_MIN_BYTES))
    const wasm = new Uint8Array(new WebAssembly.Memory({ initial: 2 }).buffer) // 2 × 64 KiB pages
    expect(releaseBytes(small, shared, wasm)).toBe(0)
    expect(small[0]).toBe(2)
    expect(shared.length).toBe(2 * RELEASE_MIN_BYTES)
    expect(wasm.length).toBe(2 * 65536)
  })
})
