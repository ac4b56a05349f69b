// Draws the app icon (a hexagon split into six shards on green) as SVG and as PNG at 192 and 512 px,
// into public/icons/. Run once after changing the design: node scripts/make-icons.ts
import { writeFileSync } from 'node:fs'
import { deflateSync } from 'node:zlib'

const BG = [0x0f, 0x5e, 0x4a]
const FG = [0xff, 0xff, 0xff]

function inside (x: number, y: number): 'bg' | 'fg' | 'none' {
  // x, y in [-1, 1]; rounded square background, six shards with gaps.
  const r = 0.22
  const ax = Math.max(Math.abs(x) - (1 - r), 0); const ay = Math.max(Math.abs(y) - (1 - r), 0)
  if (ax * ax + ay * ay > r * r) return 'none'
  const rad = Math.hypot(x, y)
  const ang = Math.atan2(y, x) + Math.PI / 2
  const sector = ((ang % (Math.PI / 3)) + Math.PI / 3) % (Math.PI / 3)
  const hexR = 0.62 / Math.cos(sector - Math.PI / 6) // distance to the hexagon edge in this direction
  const gap = Math.min(sector, Math.PI / 3 - sector) * rad
  return rad < hexR && gap > 0.035 && rad > 0.08 ? 'fg' : 'bg'
}

function png (size: number): Buffer {
  const raw = Buffer.alloc((size * 4 + 1) * size)
  for (let py = 0; py < size; py++) {
    raw[py * (size * 4 + 1)] = 0
    for (let px = 0; px < size; px++) {
      // 4× supersampling for smooth edges.
      let fg = 0; let bg = 0
      for (let s = 0; s < 16; s++) {
        const x = ((px + ((s % 4) + 0.5) / 4) / size) * 2 - 1
        const y = ((py + (Math.floor(s / 4) + 0.5) / 4) / size) * 2 - 1
        const v = inside(x, y)
        if (v === 'fg') fg++; else if (v === 'bg') bg++
      }
      const a = (fg + bg) / 16
      const o = py * (size * 4 + 1) + 1 + px * 4
      for (let c = 0; c < 3; c++) raw[o + c] = fg + bg === 0 ? 0 : Math.round((FG[c]! * fg + BG[c]! * bg) / (fg + bg))
      raw[o + 3] = Math.round(a * 255)
    }
  }
  const chunk = (type: string, data: Buffer): Buffer => {
    const len = Buffer.alloc(4); len.writeUInt32BE(data.length)
    const td = Buffer.concat([Buffer.from(type), data])
    const crc = Buffer.alloc(4); crc.writeUInt32BE(crc32(td))
    return Buffer.concat([len, td, crc])
  }
  const ihdr = Buffer.alloc(13)
  ihdr.writeUInt32BE(size, 0); ihdr.writeUInt32BE(size, 4); ihdr[8] = 8; ihdr[9] = 6
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))])
}

function crc32 (b: Buffer): number {
  let c = ~0
  for (const x of b) { c ^= x; for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1)) }
  return ~c >>> 0
}

const hex = Array.from({ length: 6 }, (_, i) => {
  const a0 = (i * Math.PI) / 3 - Math.PI / 2; const a1 = a0 + Math.PI / 3
  const p = (a: number, r: number): string => `${(50 + r * Math.cos(a)).toFixed(2)},${(50 + r * Math.sin(a)).toFixed(2)}`
  return `<polygon points="${p(a0 + 0.09, 9)} ${p(a0 + 0.06, 31)} ${p(a1 - 0.06, 31)} ${p(a1 - 0.09, 9)}" fill="#fff"/>`
}).join('')
writeFileSync('public/icons/icon.svg', `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 100"><rect width="100" height="100" rx="22" fill="#0f5e4a"/>${hex}</svg>\n`)
for (const s of [192, 512]) writeFileSync(`public/icons/icon-${s}.png`, png(s))
console.log('wrote public/icons/icon.svg, icon-192.png, icon-512.png')
