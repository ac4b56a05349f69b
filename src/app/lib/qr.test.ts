import { describe, expect, it } from 'vitest'
import { readQr } from '../../../test/support/read-qr.ts'
import { qrPicture } from './qr.ts'

/** Rasterizes the path's rectangles (as the browser would fill them), `scale` pixels per module. */
function raster (pic: { size: number, d: string }, scale: number): { data: Uint8ClampedArray, width: number } {
  const width = pic.size * scale
  const data = new Uint8ClampedArray(width * width * 4).fill(255)
  for (const m of pic.d.matchAll(/M(\d+) (\d+)h(\d+)v1h-\d+z/g)) {
    const [x, y, w] = [Number(m[1]), Number(m[2]), Number(m[3])]
    for (let py = y * scale; py < (y + 1) * scale; py++) {
      for (let px = x * scale; px < (x + w) * scale; px++) data.fill(0, (py * width + px) * 4, (py * width + px) * 4 + 3)
    }
  }
  return { data, width }
}

describe('qrPicture', () => {
  it('encodes a share link that a QR reader decodes back to the same text', () => {
    const link = 'http://127.0.0.1:5173/#shardfarm:r1:' + 'AbCdEf0123456789-_'.repeat(12) + ':12D3KooWJWoaqZhDaoEFshF7Rh1bpY9ohihFhzcW6d69Lr2NASuq,12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo'
    const pic = qrPicture(link)
    const { data, width } = raster(pic, 4)
    const read = readQr(data, width, width)
    expect(read?.data).toBe(link)
  })

  it('grows with the text and keeps a quiet zone of four modules', () => {
    const small = qrPicture('http://x/#a')
    const large = qrPicture('http://x/#' + 'a'.repeat(400))
    expect(small.size).toBe(21 + 8) // version 1
    expect(large.size).toBeGreaterThan(small.size)
    const xs = [...large.d.matchAll(/M(\d+) (\d+)/g)].flatMap(m => [Number(m[1]), Number(m[2])])
    expect(Math.min(...xs)).toBe(4)
    expect(Math.max(...xs)).toBeLessThan(large.size - 4)
  })

  it('changes when one character of the link changes', () => {
    expect(qrPicture('http://x/#shardfarm:r1:AAAA').d).not.toBe(qrPicture('http://x/#shardfarm:r1:AAAB').d)
  })
})
