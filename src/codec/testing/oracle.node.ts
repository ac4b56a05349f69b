import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { ReedSolomonErasure } from '@digitaldefiance/reed-solomon-erasure.wasm'

/**
 * The oracle: `reed-solomon-erasure` (the Rust crate ThreeFold's zstor uses) compiled to scalar
 * wasm, from npm. Used only by tests and benchmarks, as the reference for parity bytes and speed.
 */
export function loadOracle (): ReedSolomonErasure {
  const require = createRequire(import.meta.url)
  // The package exports only its entry points; its wasm sits beside the CommonJS entry.
  const entry = require.resolve('@digitaldefiance/reed-solomon-erasure.wasm')
  return ReedSolomonErasure.fromBytes(readFileSync(join(dirname(entry), 'reed_solomon_erasure_bg.wasm')))
}

/** Oracle parity for `data` (k shards back to back): returns the m parity shards back to back. */
export function oracleParity (rs: ReedSolomonErasure, k: number, m: number, data: Uint8Array): Uint8Array {
  const len = data.length / k
  const buf = new Uint8Array((k + m) * len)
  buf.set(data)
  const rc = rs.encode(buf, k, m)
  if (rc !== ReedSolomonErasure.RESULT_OK) throw new Error(`oracle encode failed: ${ReedSolomonErasure.getResultMessage(rc)}`)
  return buf.subarray(k * len)
}
