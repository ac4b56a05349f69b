// Browser harness: runs the real codec pool (Web Workers + wasm) and reports outcomes to the
// Playwright test through `window.codecHarness`.
import { createBrowserCodecPool } from '../../src/codec/pool.browser.ts'
import { GOLDEN, seededBytes } from '../../src/codec/testing/vectors.ts'
import type { VariantChoice } from '../../src/codec/loader.ts'

async function sha256 (b: Uint8Array): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest('SHA-256', b as Uint8Array<ArrayBuffer>))
  return Array.from(d, x => x.toString(16).padStart(2, '0')).join('')
}

async function run (variant: VariantChoice): Promise<Record<string, unknown>> {
  const pool = createBrowserCodecPool({ variant, size: 2 })
  try {
    const golden: boolean[] = []
    for (const g of GOLDEN) {
      const { parity } = await pool.encode(g.k, g.m, seededBytes(g.seed, g.k * g.len))
      golden.push(await sha256(parity) === g.parity)
    }
    // One 10+4 segment of 1 MiB shards: encode, lose 4 shards (3 data, 1 parity), rebuild.
    const k = 10; const m = 4; const len = 1 << 20
    const segment = seededBytes(77, k * len)
    const before = await sha256(segment)
    const { data, parity } = await pool.encode(k, m, segment)
    const all = new Uint8Array((k + m) * len)
    all.set(data); all.set(parity, k * len)
    const present = Array.from({ length: k + m }, (_, i) => ![0, 4, 9, 12].includes(i))
    for (let i = 0; i < k + m; i++) if (!present[i]) all.fill(0, i * len, (i + 1) * len)
    const rebuilt = await pool.reconstruct(k, m, all, present)
    const after = await sha256(rebuilt.subarray(0, k * len))
    const checked = await pool.verify(k, m, rebuilt)
    const verified = checked.valid
    let notEnough = ''
    await pool.reconstruct(k, m, checked.shards, Array.from({ length: k + m }, (_, i) => i >= 5)).catch((e: Error) => { notEnough = e.name })
    return { variant: await pool.variant(), golden, roundTrip: before === after, verified, notEnough, inputDetached: segment.byteLength === 0 }
  } finally {
    pool.terminate()
  }
}

declare global {
  interface Window { codecHarness: { run: typeof run } }
}
window.codecHarness = { run }
document.getElementById('status')!.textContent = 'ready'
