/**
 * Dense linear algebra for the durability chain: at most k + m + 1 ≤ 257 states, so Gaussian
 * elimination with partial pivoting (O(n³), a few milliseconds) is all it needs.
 */

/** Solves A·x = b in place of copies; throws on a singular matrix. `a` is row-major, n × n. */
export function solveLinear (a: Float64Array, b: Float64Array, n: number): Float64Array {
  const m = Float64Array.from(a)
  const x = Float64Array.from(b)
  for (let col = 0; col < n; col++) {
    let pivot = col
    for (let r = col + 1; r < n; r++) if (Math.abs(m[r * n + col]!) > Math.abs(m[pivot * n + col]!)) pivot = r
    const p = m[pivot * n + col]!
    if (p === 0 || !Number.isFinite(p)) throw new RangeError('singular matrix')
    if (pivot !== col) {
      for (let c = 0; c < n; c++) {
        const t = m[col * n + c]!
        m[col * n + c] = m[pivot * n + c]!
        m[pivot * n + c] = t
      }
      const t = x[col]!
      x[col] = x[pivot]!
      x[pivot] = t
    }
    for (let r = col + 1; r < n; r++) {
      const f = m[r * n + col]! / p
      if (f === 0) continue
      for (let c = col; c < n; c++) m[r * n + c] = m[r * n + c]! - f * m[col * n + c]!
      x[r] = x[r]! - f * x[col]!
    }
  }
  for (let r = n - 1; r >= 0; r--) {
    let s = x[r]!
    for (let c = r + 1; c < n; c++) s -= m[r * n + c]! * x[c]!
    x[r] = s / m[r * n + r]!
  }
  return x
}
