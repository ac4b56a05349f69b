// Codec benchmark: our standard and relaxed modules against the oracle package and memcpy, single
// thread, 1 MiB shards, medians after warm-up; then the worker pool's aggregate encode throughput.
//
//   npm run bench:codec               table on stdout
//   npm run bench:codec -- --json     ...and one JSON object as the last line
//   npm run bench:codec -- --runs 21  more runs per figure (default 15)
import { availableParallelism } from 'node:os'
import { loadCodec } from '../src/codec/loader.ts'
import { nodeModuleSource } from '../src/codec/source.node.ts'
import { createNodeCodecPool } from '../src/codec/pool.node.ts'
import { seededBytes } from '../src/codec/testing/vectors.ts'
import { loadOracle } from '../src/codec/testing/oracle.node.ts'
import { median, parseBenchArgs, printTable } from './util.ts'

const args = parseBenchArgs(process.argv.slice(2))
const RUNS = args.runs ?? 15
const WARMUP = 5
const SHARD = 1 << 20
const CODES: Array<[number, number]> = [[4, 2], [10, 4], [16, 4], [32, 8]]

/** Median GB/s of `bytes` processed by `fn`, after warm-up (V8 tiers wasm up in the background). */
function gbps (bytes: number, fn: () => void, runs = RUNS): number {
  for (let i = 0; i < WARMUP; i++) fn()
  const t: number[] = []
  for (let i = 0; i < runs; i++) {
    const s = performance.now()
    fn()
    t.push(performance.now() - s)
  }
  return bytes / median(t) / 1e6
}

const standard = await loadCodec(nodeModuleSource, 'standard')
const relaxed = await loadCodec(nodeModuleSource, 'relaxed')
const oracle = loadOracle()
const result: Record<string, unknown> = {}
const rows: string[][] = []
let memcpyRef = 0

for (const [k, m] of CODES) {
  const dataBytes = k * SHARD
  const input = seededBytes(k * 7 + m, dataBytes)
  const entry = { encode_gbps: {} as Record<string, number>, reconstruct_gbps: {} as Record<string, number> }

  for (const codec of [standard, relaxed]) {
    const set = codec.alloc(k, m, SHARD)
    set.data().set(input)
    entry.encode_gbps[codec.variant] = gbps(dataBytes, () => set.encode())
    // m data shards lost: the worst case, every output needs all k inputs.
    const present = Array.from({ length: k + m }, (_, i) => i >= m)
    entry.reconstruct_gbps[codec.variant] = gbps(dataBytes, () => set.reconstruct(present, { dataOnly: true }))
    set.free()
  }

  const buf = new Uint8Array((k + m) * SHARD)
  buf.set(input)
  const oracleRuns = Math.max(5, Math.floor(RUNS / 2)) // ~10× slower; fewer runs keep the bench short
  entry.encode_gbps.oracle = gbps(dataBytes, () => { oracle.encode(buf, k, m) }, oracleRuns)
  const avail = Array.from({ length: k + m }, (_, i) => i >= m)
  entry.reconstruct_gbps.oracle = gbps(dataBytes, () => { oracle.reconstruct(buf, k, m, avail) }, oracleRuns)

  const dst = new Uint8Array(dataBytes)
  const memcpy = gbps(dataBytes, () => dst.set(input))
  memcpyRef = Math.max(memcpyRef, memcpy)
  result[`rs_${k}_${m}`] = { ...entry, memcpy_gbps: memcpy }
  const e = entry.encode_gbps; const r = entry.reconstruct_gbps
  rows.push([`RS(${k},${m})`, f(e.standard), f(e.relaxed), f(e.oracle), `${f(e.relaxed! / e.oracle!, 1)}×`,
    f(r.standard), f(r.relaxed), f(r.oracle), f(memcpy)])
}
result.memcpy_gbps = memcpyRef

console.log(`Codec, one thread, ${SHARD >> 20} MiB shards, GB/s of data in, median of ${RUNS} (oracle ${Math.max(5, Math.floor(RUNS / 2))}) after ${WARMUP} warm-up runs`)
printTable(['code', 'enc std', 'enc relaxed', 'enc oracle', 'relaxed/oracle', 'rec std', 'rec relaxed', 'rec oracle', 'memcpy'], rows)

// Pool: aggregate throughput of whole RS(10,4) segments through workers, including the transfer,
// the copy into wasm memory and the parity copy out.
const cores = availableParallelism()
const pool: Record<string, number> = {}
for (const size of [...new Set([1, cores])]) {
  const p = createNodeCodecPool({ size })
  const segments = 8 * size
  const segment = seededBytes(3, 10 * SHARD)
  // Warm up every worker until V8 has tiered its wasm up (the first jobs run baseline code).
  for (let w = 0; w < 12; w++) await Promise.all(Array.from({ length: size }, async () => await p.encode(10, 4, segment.slice())))
  const times: number[] = []
  for (let r = 0; r < 7; r++) {
    const inputs = Array.from({ length: segments }, () => segment.slice())
    const s = performance.now()
    await Promise.all(inputs.map(async b => await p.encode(10, 4, b)))
    times.push(performance.now() - s)
  }
  p.terminate()
  pool[`workers_${size}`] = segments * segment.byteLength / median(times) / 1e6
}
result.pool_encode_gbps = { ...pool, cores }
console.log(`\nWorker pool, RS(10,4) segments of 10 MiB, aggregate GB/s (median of 7): ` +
  Object.entries(pool).map(([k, v]) => `${k.replace('_', ' ')}: ${f(v)}`).join(', ') + ` (${cores} cores)`)

if (args.json) console.log(JSON.stringify(result))

function f (x: number | undefined, digits = 2): string {
  return x === undefined ? '-' : x.toFixed(digits)
}
