/**
 * A small seeded random source for the durability model: xoshiro128** (Blackman and Vigna), its
 * 128-bit state filled by splitmix32 from one 32-bit seed. Written here rather than taken from a
 * package so that a figure in docs/durability.md is reproducible from its seed on any platform,
 * and so that the model stays a pure module.
 */

/** One step of splitmix32: spreads a seed over the state words. */
function splitmix32 (state: { s: number }): number {
  state.s = (state.s + 0x9e3779b9) | 0
  let z = state.s
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b)
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35)
  return (z ^ (z >>> 16)) >>> 0
}

const rotl = (x: number, k: number): number => (x << k) | (x >>> (32 - k))

/** xoshiro128**: fast, 2^128 − 1 period, and the same sequence for the same seed everywhere. */
export class Rng {
  private a: number
  private b: number
  private c: number
  private d: number

  /** @param seed any integer; only its low 32 bits matter. */
  constructor (seed: number) {
    const st = { s: seed | 0 }
    this.a = splitmix32(st)
    this.b = splitmix32(st)
    this.c = splitmix32(st)
    this.d = splitmix32(st)
    if ((this.a | this.b | this.c | this.d) === 0) this.d = 1 // the one state xoshiro cannot leave
  }

  /** The next 32 random bits, as an unsigned integer. */
  nextUint32 (): number {
    const result = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0
    const t = this.b << 9
    this.c ^= this.a
    this.d ^= this.b
    this.b ^= this.c
    this.a ^= this.d
    this.c ^= t
    this.d = rotl(this.d, 11)
    return result
  }

  /** Uniform in (0, 1): never 0, so that `Math.log` of it is finite. */
  uniform (): number {
    return (this.nextUint32() + 0.5) / 4294967296
  }

  /** Uniform integer in [0, n). */
  int (n: number): number {
    return Math.floor(this.uniform() * n)
  }

  /** Exponential with the given mean. */
  exponential (mean: number): number {
    return -mean * Math.log(this.uniform())
  }

  /** Weibull with `shape` and `scale`: scale · (−ln U)^(1/shape). */
  weibull (shape: number, scale: number): number {
    return scale * Math.pow(-Math.log(this.uniform()), 1 / shape)
  }

  /** True with probability `p`. */
  chance (p: number): boolean {
    return this.uniform() < p
  }
}

// Lanczos approximation (g = 7, n = 9): about 15 significant digits for real arguments > 0.5.
const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313,
  -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6,
  1.5056327351493116e-7
]

/** The gamma function Γ(x), for x > 0. */
export function gamma (x: number): number {
  if (x < 0.5) return Math.PI / (Math.sin(Math.PI * x) * gamma(1 - x))
  const z = x - 1
  let s = LANCZOS[0]!
  for (let i = 1; i < LANCZOS.length; i++) s += LANCZOS[i]! / (z + i)
  const t = z + 7.5
  return Math.sqrt(2 * Math.PI) * Math.pow(t, z + 0.5) * Math.exp(-t) * s
}

/** The Weibull scale that gives lifetimes of mean `mean` at `shape`: mean / Γ(1 + 1/shape). */
export function weibullScaleForMean (shape: number, mean: number): number {
  return mean / gamma(1 + 1 / shape)
}
