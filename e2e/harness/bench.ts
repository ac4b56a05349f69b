// Browser benchmark harness (bench/browser.ts drives it through `window.benchHarness`): the real
// browser wiring (libp2p over WebSockets, Libp2pTransport, RelayDirectory, the Web Worker codec
// pool) uploading a file generated on the fly, downloading it into a verifying sink, and, beside
// them over the same transport, plain PUTs and GETs of pre-made 1 MiB fragments (the raw figure).
import type { Libp2p } from '@libp2p/interface'
import { createBrowserLibp2p } from '../../src/net/libp2p.browser.ts'
import { Libp2pTransport, RelayDirectory } from '../../src/client/adapters/libp2p-ports.ts'
import { KvJobStore } from '../../src/client/job-store.ts'
import { UploadJob } from '../../src/client/ops/upload.ts'
import { Download } from '../../src/client/ops/download.ts'
import { MemoryKeyValueStore } from '../../src/stores/kv/memory.ts'
import type { ByteSource, Farmer } from '../../src/client/ports.ts'
import type { Capability } from '../../src/core/capability.ts'
import { createBrowserCodecPool } from '../../src/codec/pool.browser.ts'
import type { CodecPool } from '../../src/codec/pool.ts'
import { sha256Hex } from '../../src/core/hash.ts'
import { normalizePolicy } from '../../src/core/policy.ts'
import { BENCH_POLICY } from '../../test/support/test-policy.ts'
import { segmentLayout, segmentRange } from '../../src/core/segments.ts'

/** The owner key benchmark puts claim with (only its public half travels). */
const BENCH_OWNER = { publicKey: Buffer.alloc(32, 7).toString('base64') }

const FRAGMENT = 1 << 20
const BLOCK = 64 * 1024
const CALL_TIMEOUT_MS = 180_000

// ── Deterministic bytes: xorshift128 per 64 KiB block, seeded from (seed, block), so any range of
// the file can be produced on its own and nothing bigger than a read is ever held.

function fillBlock (out: Uint32Array, seed: number, block: number): void {
  let s = (Math.imul(seed, 0x9e3779b1) ^ Math.imul(block + 1, 0x85ebca6b)) >>> 0
  const next = (): number => { // splitmix32, to spread the seed over the four state words
    s = (s + 0x9e3779b9) >>> 0
    let z = s
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b)
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35)
    return (z ^ (z >>> 16)) >>> 0
  }
  let x = next(); let y = next(); let z = next(); let w = next() | 1
  for (let i = 0; i < out.length; i++) {
    const t = x ^ (x << 11)
    x = y; y = z; z = w
    w = (w ^ (w >>> 19) ^ t ^ (t >>> 8)) >>> 0
    out[i] = w
  }
}

/** A file of `size` pseudo-random bytes, made on demand. */
class GeneratedSource implements ByteSource {
  readonly size: number
  readonly #seed: number
  readonly #words = new Uint32Array(BLOCK / 4)
  readonly #bytes = new Uint8Array(this.#words.buffer)

  constructor (size: number, seed: number) {
    this.size = size
    this.#seed = seed
  }

  async read (offset: number, length: number): Promise<Uint8Array> {
    return this.readSync(offset, length)
  }

  readSync (offset: number, length: number): Uint8Array {
    const out = new Uint8Array(length)
    let pos = offset
    while (pos < offset + length) {
      const block = Math.floor(pos / BLOCK)
      const from = pos - block * BLOCK
      const n = Math.min(BLOCK - from, offset + length - pos)
      fillBlock(this.#words, this.#seed, block)
      out.set(this.#bytes.subarray(from, from + n), pos - offset)
      pos += n
    }
    return out
  }
}

// ── State kept between calls from the driver.

interface State {
  libp2p: Libp2p
  transport: Libp2pTransport
  directory: RelayDirectory
  pool: CodecPool
  farmers: Farmer[]
  /** Extra nodes (separate connections to each farmer) for the raw exploration; made on demand. */
  extra: Array<{ libp2p: Libp2p, transport: Libp2pTransport }>
  last?: { capability: Capability, source: GeneratedSource, digests: Map<number, { length: number, digest: string }> }
}
let st: State | undefined

function state (): State {
  if (st === undefined) throw new Error('call setup() first')
  return st
}

export interface SetupResult { farmers: number, regions: Record<string, number>, codecWorkers: number, variant: string }

const nodeInit = { allowLocal: true }

async function setup (opts: { relay: string, farmers: number, codecWorkers?: number }): Promise<SetupResult> {
  const libp2p = await createBrowserLibp2p(nodeInit)
  const transport = new Libp2pTransport(libp2p, { timeoutMs: CALL_TIMEOUT_MS })
  const directory = new RelayDirectory(libp2p, opts.relay)
  const pool = createBrowserCodecPool(opts.codecWorkers !== undefined ? { size: opts.codecWorkers } : {})
  let farmers: Farmer[] = []
  const until = Date.now() + 60_000
  while (Date.now() < until) {
    farmers = (await directory.list()).filter(f => f.kind === 'full')
    if (farmers.length >= opts.farmers) break
    await new Promise(resolve => setTimeout(resolve, 250))
  }
  if (farmers.length < opts.farmers) throw new Error(`the directory lists ${farmers.length} full farmers, expected ${opts.farmers}`)
  st = { libp2p, transport, directory, pool, farmers, extra: [] }
  // Connections, Noise handshakes and JIT before anything is timed; codec workers started too.
  await warm(transport, farmers, 101)
  const variant = await pool.variant()
  const regions: Record<string, number> = {}
  for (const f of farmers) regions[f.region] = (regions[f.region] ?? 0) + 1
  return { farmers: farmers.length, regions, codecWorkers: pool.size, variant }
}

/** Two small fragments to every farmer and back: opens the connection and warms the paths. */
async function warm (transport: Libp2pTransport, farmers: Farmer[], seed: number): Promise<void> {
  const frags = await makeFragments(2, seed, 64 * 1024)
  await Promise.all(farmers.map(async f => {
    for (const x of frags) {
      await transport.put(f, x.id, x.bytes, { owner: BENCH_OWNER })
      await transport.get(f, x.id)
    }
  }))
}

async function makeFragments (n: number, seed: number, size = FRAGMENT): Promise<Array<{ id: string, bytes: Uint8Array }>> {
  const src = new GeneratedSource(n * size, seed)
  return await Promise.all(Array.from({ length: n }, async (_, i) => {
    const bytes = src.readSync(i * size, size)
    return { id: await sha256Hex(bytes), bytes }
  }))
}

export interface RawResult {
  fragments: number
  bytes: number
  put_s: number
  put_mbps: number
  get_s: number
  get_mbps: number
  streams_per_farmer: number
  connections_per_farmer: number
}

/**
 * Raw aggregate throughput: `bytes` of pre-made 1 MiB fragments (the same distinct set to every
 * farmer, so no farmer ever holds one already), PUT to all farmers at once with `streams` in
 * flight per farmer; then the same fragments fetched back (GET) the same way. With
 * `connections` > 1, extra libp2p nodes in this page give that many connections per farmer.
 */
async function raw (opts: { bytes: number, streams: number, seed: number, connections?: number }): Promise<RawResult> {
  const s = state()
  const conns = Math.max(1, opts.connections ?? 1)
  while (s.extra.length < conns - 1) {
    const libp2p = await createBrowserLibp2p(nodeInit)
    const transport = new Libp2pTransport(libp2p, { timeoutMs: CALL_TIMEOUT_MS })
    await warm(transport, s.farmers, 200 + s.extra.length)
    s.extra.push({ libp2p, transport })
  }
  const transports = [s.transport, ...s.extra.slice(0, conns - 1).map(e => e.transport)]
  const per = Math.max(opts.streams, Math.ceil(opts.bytes / FRAGMENT / s.farmers.length))
  const frags = await makeFragments(per, opts.seed)
  const run = async (op: (t: Libp2pTransport, f: Farmer, x: { id: string, bytes: Uint8Array }) => Promise<void>): Promise<number> => {
    const t0 = performance.now()
    await Promise.all(s.farmers.map(async f => {
      let next = 0
      await Promise.all(Array.from({ length: opts.streams }, async (_, j) => {
        const t = transports[j % transports.length]!
        while (next < frags.length) await op(t, f, frags[next++]!)
      }))
    }))
    return (performance.now() - t0) / 1000
  }
  const putS = await run(async (t, f, x) => { await t.put(f, x.id, x.bytes, { owner: BENCH_OWNER }) })
  const getS = await run(async (t, f, x) => {
    const b = await t.get(f, x.id) // FarmerClient verifies the hash
    if (b.byteLength !== x.bytes.byteLength) throw new Error('short fragment')
  })
  const total = per * s.farmers.length * FRAGMENT
  return {
    fragments: per * s.farmers.length, bytes: total, put_s: putS, put_mbps: total / 1e6 / putS,
    get_s: getS, get_mbps: total / 1e6 / getS, streams_per_farmer: opts.streams, connections_per_farmer: conns
  }
}

export interface UploadFigures { size: number, seconds: number, mbps: number, sent_bytes: number, wire_mbps: number, segments: number, concurrency: number | 'default' }

/** Uploads a generated file of `size` bytes with the bench policy (10 + 4 over three regions); keeps its capability for `download`. */
async function upload (opts: { size: number, seed: number, concurrency?: number }): Promise<UploadFigures> {
  const s = state()
  const source = new GeneratedSource(opts.size, opts.seed)
  // Expected per-segment digests for the download's check, computed before the clock starts.
  const policy = normalizePolicy(BENCH_POLICY)
  const layout = segmentLayout(opts.size, policy.k)
  const digests = new Map<number, { length: number, digest: string }>()
  for (let i = 0; i < layout.count; i++) {
    const r = segmentRange(layout, i)
    digests.set(r.offset, { length: r.length, digest: await sha256Hex(source.readSync(r.offset, r.length)) })
  }
  const t0 = performance.now()
  const job = await UploadJob.open(new KvJobStore(new MemoryKeyValueStore()), { size: source.size, policy: BENCH_POLICY, name: 'bench.bin' })
  const res = await job.run({ transport: s.transport, directory: s.directory, coder: s.pool }, source,
    opts.concurrency !== undefined ? { concurrency: opts.concurrency } : {})
  const seconds = (performance.now() - t0) / 1000
  s.last = { capability: res.capability, source, digests }
  return {
    size: opts.size, seconds, mbps: opts.size / 1e6 / seconds, sent_bytes: res.sentBytes,
    wire_mbps: res.sentBytes / 1e6 / seconds, segments: layout.count, concurrency: opts.concurrency ?? 'default'
  }
}

export interface DownloadFigures { size: number, seconds: number, mbps: number, verified_bytes: number, concurrency: number | 'default', hedge: number }

/**
 * Downloads the last upload into a sink that checks every chunk against the source (its segment
 * digest when the chunk is a whole segment, else the regenerated bytes) and then drops it.
 */
async function download (opts: { concurrency?: number, hedge: number }): Promise<DownloadFigures> {
  const s = state()
  const last = s.last
  if (last === undefined) throw new Error('nothing uploaded yet')
  let pos = 0
  const sink = async (chunk: Uint8Array): Promise<void> => {
    const want = last.digests.get(pos)
    if (want !== undefined && want.length === chunk.byteLength) {
      if (await sha256Hex(chunk) !== want.digest) throw new Error(`download differs from the source in the segment at byte ${pos}`)
    } else {
      const expect = last.source.readSync(pos, chunk.byteLength)
      for (let i = 0; i < chunk.byteLength; i++) {
        if (chunk[i] !== expect[i]) throw new Error(`download differs from the source at byte ${pos + i}`)
      }
    }
    pos += chunk.byteLength
  }
  const t0 = performance.now()
  await new Download({ transport: s.transport, directory: s.directory, coder: s.pool }, last.capability,
    { ...(opts.concurrency !== undefined ? { concurrency: opts.concurrency } : {}), hedge: opts.hedge }).run(sink)
  const seconds = (performance.now() - t0) / 1000
  if (pos !== last.source.size) throw new Error(`download gave ${pos} bytes, expected ${last.source.size}`)
  return { size: pos, seconds, mbps: pos / 1e6 / seconds, verified_bytes: pos, concurrency: opts.concurrency ?? 'default', hedge: opts.hedge }
}

async function teardown (): Promise<void> {
  if (st === undefined) return
  st.pool.terminate()
  await Promise.all([st.libp2p, ...st.extra.map(e => e.libp2p)].map(async n => { await n.stop() }))
  st = undefined
}

declare global {
  interface Window { benchHarness: { setup: typeof setup, raw: typeof raw, upload: typeof upload, download: typeof download, teardown: typeof teardown } }
}
window.benchHarness = { setup, raw, upload, download, teardown }
document.getElementById('status')!.textContent = 'ready'
