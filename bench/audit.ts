// Proofs-of-storage benchmark, each figure beside its baseline measured in the same run:
//   trees       ms to build the Merkle tree of a 1 MiB fragment (1024 leaves, 16-wide inner nodes)
//               with node:crypto, with the pure-JS engine core/merkle.ts falls back to, split into
//               leaves and inner nodes, and with the codec module's multi-buffer SHA-256 (SIMD128,
//               the shard where it lies in wasm memory, as the codec worker does; browsers use
//               it); baseline: the fragment's SHA-256 id.
//   challenge   one audit (16 random 1 KiB leaves with their Merkle paths) of a 1 MiB and a 16 MiB
//               fragment held by a real farmer process: wall ms, bytes on the wire, CPU ms of the
//               auditor (this process) and of the farmer. Baseline: a GET of the same fragment,
//               the only other way to check a farmer still has it.
//   audits/s    audits of 1 MiB fragments one farmer sustains, from 4 auditor nodes with 2 audits
//               in flight each (the farmer's per-peer budget). Baseline: GETs/s of the same
//               fragments at the same concurrency.
//   put         fragment bytes/s of sealing (read, encrypt, RS(4,2) encode, ids, Merkle roots) and
//               PUTting 128 MiB of file to 6 farmer processes, with the roots (A) and with only the
//               root computation switched off (B), alternated --runs times (default 5): medians,
//               and the median of each A run over the B run just before it, which is steadier on a
//               shared machine whose speed drifts within minutes. Target A/B ≥ 0.95. Beside it, the
//               CPU seconds of the put (this process and its codec worker, and the 6 farmers): on
//               a machine whose cores others use too, CPU is the steadier measure of the cost.
//               A third arm (C) has the codec worker build the roots with the wasm module instead
//               of node:crypto, the engine browsers use: what Node would get from it.
// Farmers are real `shardfarm farmer` processes with stores in a temp dir (SHARDFARM_BENCH_DIR).
// Usage: node bench/audit.ts [--json] [--runs N]
import { hash, randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import type { Libp2p } from '@libp2p/interface'
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js'
import { spawnShardfarm, stopChild } from '../src/cli/spawn.ts'
import type { ShardfarmChild } from '../src/cli/spawn.ts'
import { AuditClient } from '../src/client/adapters/audit-client.ts'
import { nodeSegmentCipher } from '../src/client/adapters/cipher.node.ts'
import { FarmerClient } from '../src/client/adapters/farmer-client.ts'
import { installNodeEngines, nodeMerkleSha256 } from '../src/client/adapters/hash.node.ts'
import { SegmentSealer } from '../src/client/blocks/seal.ts'
import type { FarmerRef } from '../src/client/ports.ts'
import { loadCodec } from '../src/codec/loader.ts'
import { createNodeCodecPool } from '../src/codec/pool.node.ts'
import { nodeModuleSource } from '../src/codec/source.node.ts'
import { generateFileId, generateFileKey, importFileKey } from '../src/core/envelope.ts'
import { sha256Hex } from '../src/core/hash.ts'
import { buildTree, hashLeaf, LEAF_BYTES, merkleRoot, useMerkleSha256 } from '../src/core/merkle.ts'
import { generateOwnerKey } from '../src/core/owner-key.ts'
import { TEST_POLICY } from '../test/support/test-policy.ts'
import { segmentLayout } from '../src/core/segments.ts'
import { createNodeLibp2p } from '../src/net/libp2p.node.ts'
import { FsFragmentStore } from '../src/stores/fs.ts'
import { cpuMeter, median, parseBenchArgs, printTable } from './util.ts'

const args = parseBenchArgs(process.argv.slice(2))
const runs = args.runs ?? 5
const log = (s: string): void => { process.stderr.write(s + '\n') }
const MiB = 1 << 20
const SIZES = [MiB, 16 * MiB]
const PUT_BYTES = 128 * MiB
const PUT_FARMERS = 6
const AUDITORS = 4
const PER_AUDITOR = 2
const THROUGHPUT_OPS = 240

installNodeEngines()
const round = (x: number, d = 2): number => Math.round(x * 10 ** d) / 10 ** d

/**
 * Median ms of one call of each of `fns`, over `n` rounds that call each in turn (after 5 to warm
 * up), so that a machine whose speed drifts slows them all alike.
 */
function timeEach (fns: Array<() => unknown>, n: number): number[] {
  const t: number[][] = fns.map(() => [])
  for (let r = -5; r < n; r++) {
    fns.forEach((fn, i) => {
      const t0 = performance.now()
      fn()
      if (r >= 0) t[i]!.push(performance.now() - t0)
    })
  }
  return t.map(median)
}

/** What one 1 MiB fragment's tree costs, per engine, beside its id (leaves and nodes: null where not apart). */
async function treeCosts (): Promise<Record<string, { tree_ms: number, leaves_ms: number | null, nodes_ms: number | null, id_ms: number }>> {
  const bytes = new Uint8Array(randomBytes(MiB))
  const codec = await loadCodec(nodeModuleSource)
  const set = codec.alloc(1, 1, MiB)
  set.shard(0).set(bytes)
  if (set.merkleRoot(0) !== merkleRoot(bytes)) throw new Error('the codec module\'s root differs from merkleRoot')
  const leaves = (): void => { for (let off = 0; off < MiB; off += LEAF_BYTES) hashLeaf(bytes.subarray(off, off + LEAF_BYTES)) }
  const out: Awaited<ReturnType<typeof treeCosts>> = {}
  // The module interleaved with node:crypto, its rival in Node, so both see the same machine.
  useMerkleSha256(nodeMerkleSha256)
  const [wasmTree, nodeTree, nodeId] = timeEach([() => set.merkleRoot(0), () => buildTree(bytes), () => hash('sha256', bytes, 'buffer')], 200) as [number, number, number]
  out[`wasm ${codec.variant} (codec module, browsers)`] = { tree_ms: round(wasmTree), leaves_ms: null, nodes_ms: null, id_ms: round(nodeId) }
  out['  node:crypto, interleaved with it'] = { tree_ms: round(nodeTree), leaves_ms: null, nodes_ms: null, id_ms: round(nodeId) }
  set.free()
  for (const [name, engine, id, n] of [
    ['node:crypto', nodeMerkleSha256, () => hash('sha256', bytes, 'buffer'), 200],
    ['@noble/hashes (browsers)', nobleSha256, () => nobleSha256(bytes), 30]
  ] as const) {
    useMerkleSha256(engine)
    const [tree, leafMs, idMs] = timeEach([() => buildTree(bytes), leaves, id], n) as [number, number, number]
    out[name] = { tree_ms: round(tree), leaves_ms: round(leafMs), nodes_ms: round(Math.max(0, tree - leafMs)), id_ms: round(idMs) }
  }
  useMerkleSha256(nodeMerkleSha256)
  return out
}

interface Frag { id: string, root: string, size: number, bytes: Uint8Array }
async function makeFrag (size: number): Promise<Frag> {
  const bytes = new Uint8Array(randomBytes(size))
  return { id: await sha256Hex(bytes), root: merkleRoot(bytes), size, bytes }
}

const root = await mkdtemp(join(process.env.SHARDFARM_BENCH_DIR ?? tmpdir(), 'shardfarm-audit-bench-'))
const children: ShardfarmChild[] = []
const nodes: Libp2p[] = []
const pool = createNodeCodecPool()
const wasmPool = createNodeCodecPool({ merkle: 'wasm' })
try {
  const trees = await treeCosts()
  printTable(['tree of a 1 MiB fragment, engine', 'tree ms', 'leaves ms', 'inner nodes ms', 'id SHA-256 ms (baseline)'],
    Object.entries(trees).map(([name, c]) => [name, String(c.tree_ms), String(c.leaves_ms ?? '–'), String(c.nodes_ms ?? '–'), String(c.id_ms)]))

  // The audited farmer's fragments go straight into its store before it starts: 8 of each size.
  const frags = new Map<number, Frag[]>()
  const auditDir = join(root, 'audited')
  const store = await FsFragmentStore.open(auditDir)
  for (const size of SIZES) {
    const list: Frag[] = []
    for (let i = 0; i < 8; i++) {
      const f = await makeFrag(size)
      await store.put(f.id, f.bytes)
      list.push(f)
    }
    frags.set(size, list)
  }
  await store.close()
  log('starting farmers')
  const audited = await spawnShardfarm(['farmer', '--data', auditDir, '--quota', '8GiB'], { name: 'audit-bench-farmer', stderr: 'ignore' })
  children.push(audited)
  children.push(...await Promise.all(Array.from({ length: PUT_FARMERS }, async (_, i) =>
    await spawnShardfarm(['farmer', '--data', join(root, `put${i}`), '--quota', '8GiB'], { name: `audit-bench-put-${i}`, stderr: 'ignore' }))))
  const ref = (c: ShardfarmChild): FarmerRef => ({ peerId: c.addr.split('/p2p/')[1]!, addrs: [c.addr] })
  const auditedRef = ref(audited)

  const newNode = async (): Promise<Libp2p> => { const n = await createNodeLibp2p(); nodes.push(n); return n }
  const main = await newNode()
  const auditor = new AuditClient(main)
  const getter = new FarmerClient({ libp2p: main }, { timeoutMs: 120_000 })
  const target = multiaddr(audited.addr)
  // Warm-up: the connection, Noise, JIT.
  for (const f of frags.get(MiB)!) { await auditor.audit(auditedRef, f); await getter.get(target, f.id) }

  // ---- challenge cost ----
  const challenge: Record<string, unknown> = {}
  const rows: string[][] = []
  for (const size of SIZES) {
    const list = frags.get(size)!
    const n = size === MiB ? 40 : 16
    const measure = async (op: (f: Frag) => Promise<number>): Promise<{ ms: number, bytes: number, auditorCpuMs: number, farmerCpuMs: number }> => {
      const walls: number[] = []
      let bytes = 0
      const farmerCpu = cpuMeter([audited.pid])
      const c0 = process.cpuUsage()
      for (let i = 0; i < n; i++) {
        const t0 = performance.now()
        bytes += await op(list[i % list.length]!)
        walls.push(performance.now() - t0)
      }
      const c = process.cpuUsage(c0)
      return { ms: round(median(walls)), bytes: Math.round(bytes / n), auditorCpuMs: round((c.user + c.system) / 1000 / n), farmerCpuMs: round(farmerCpu() * 1000 / n) }
    }
    const audit = await measure(async f => {
      const out = await auditor.audit(auditedRef, f)
      if (out.verdict !== 'proven') throw new Error(`honest farmer not proven: ${out.verdict} ${out.reason ?? ''}`)
      return out.bytes
    })
    const get = await measure(async f => (await getter.get(target, f.id)).byteLength)
    const label = `${size / MiB} MiB`
    challenge[label] = { audit, get_baseline: get }
    rows.push([`audit ${label}`, String(audit.ms), String(audit.bytes), String(audit.auditorCpuMs), String(audit.farmerCpuMs)])
    rows.push([`  GET ${label} (baseline)`, String(get.ms), String(get.bytes), String(get.auditorCpuMs), String(get.farmerCpuMs)])
  }
  printTable(['challenge', 'wall ms', 'bytes', 'auditor CPU ms', 'farmer CPU ms'], rows)

  // ---- audits per second ----
  const auditors = await Promise.all(Array.from({ length: AUDITORS }, async () => {
    const node = await newNode()
    return { audit: new AuditClient(node), get: new FarmerClient({ libp2p: node }) }
  }))
  const mibFrags = frags.get(MiB)!
  const sustained = async (op: (a: typeof auditors[number], f: Frag) => Promise<boolean>): Promise<{ perSecond: number, busy: number, farmerCpu: number }> => {
    let next = 0
    let busy = 0
    let done = 0
    const farmerCpu = cpuMeter([audited.pid])
    const t0 = performance.now()
    await Promise.all(auditors.flatMap(a => Array.from({ length: PER_AUDITOR }, async () => {
      while (next < THROUGHPUT_OPS) {
        const f = mibFrags[next++ % mibFrags.length]!
        try {
          if (await op(a, f)) done++
        } catch (err) {
          if ((err as Error).name !== 'FarmerBusyError') throw err
          busy++
        }
      }
    })))
    const s = (performance.now() - t0) / 1000
    return { perSecond: round(done / s, 1), busy, farmerCpu: round(farmerCpu() / s) }
  }
  const auditRate = await sustained(async (a, f) => (await a.audit.audit(auditedRef, f)).verdict === 'proven')
  const getRate = await sustained(async (a, f) => (await a.get.get(target, f.id)).byteLength === f.size)
  printTable(['1 MiB fragments, 8 in flight', 'per second', 'BUSY', 'farmer CPU (cores)'], [
    ['audits', String(auditRate.perSecond), String(auditRate.busy), String(auditRate.farmerCpu)],
    ['  GETs (baseline)', String(getRate.perSecond), String(getRate.busy), String(getRate.farmerCpu)]
  ])

  // ---- put with and without trees ----
  const owner = await generateOwnerKey()
  const putRefs = children.slice(1).map(c => multiaddr(c.addr))
  const putter = new FarmerClient({ libp2p: main }, { timeoutMs: 120_000 })
  const file = new Uint8Array(randomBytes(PUT_BYTES))
  const policy = TEST_POLICY
  const putPids = [process.pid, ...children.slice(1).map(c => c.pid)]
  const putCpu: Record<'with' | 'without' | 'wasm', number[]> = { with: [], without: [], wasm: [] }
  const putOnce = async (roots: boolean, coder = pool): Promise<number> => {
    const layout = segmentLayout(file.length, policy.k)
    const sealer = new SegmentSealer({
      key: await importFileKey(generateFileKey()), fileId: generateFileId(), layout, policy, coder, cipher: nodeSegmentCipher,
      source: { size: file.length, read: async (off, len) => file.subarray(off, off + len) }, merkleRoots: roots
    })
    const cpu = cpuMeter(putPids)
    const t0 = performance.now()
    let wire = 0
    // Two segments in flight: one being sealed while the other's fragments travel.
    let sending: Promise<void> = Promise.resolve()
    for (let s = 0; s < layout.count; s++) {
      const seg = await sealer.prepare(s)
      if (roots !== (seg.roots.length > 0)) throw new Error('the root switch did not apply')
      await sending
      sending = Promise.all(seg.frags.map(async (f, i) => {
        await putter.put(putRefs[i % putRefs.length]!, seg.ids[i]!, f, { owner })
        wire += f.byteLength
      })).then(() => { sealer.give(seg.shards) })
    }
    await sending
    const mbps = wire / 1e6 / ((performance.now() - t0) / 1000)
    putCpu[!roots ? 'without' : coder === pool ? 'with' : 'wasm'].push(cpu())
    return mbps
  }
  await putOnce(true) // warm-up
  await putOnce(true, wasmPool)
  putCpu.with.length = 0
  putCpu.wasm.length = 0
  const withRoots: number[] = []
  const withoutRoots: number[] = []
  const wasmRoots: number[] = []
  for (let r = 0; r < runs; r++) {
    withoutRoots.push(await putOnce(false))
    withRoots.push(await putOnce(true))
    wasmRoots.push(await putOnce(true, wasmPool))
  }
  const wasmPairRatio = median(wasmRoots.map((x, i) => x / withoutRoots[i]!))
  const putRatio = median(withRoots) / median(withoutRoots)
  const pairRatio = median(withRoots.map((x, i) => x / withoutRoots[i]!))
  const cpuRatio = median(putCpu.without) / median(putCpu.with)
  printTable(['put 128 MiB, RS(4,2), 6 farmers', 'MB/s on the wire (median)', 'runs'], [
    ['with Merkle roots', String(round(median(withRoots), 1)), withRoots.map(x => round(x, 1)).join(' ')],
    ['  without (baseline)', String(round(median(withoutRoots), 1)), withoutRoots.map(x => round(x, 1)).join(' ')],
    ['ratio of medians (target ≥ 0.95)', `${round(putRatio)} ${putRatio >= 0.95 ? '✔' : '✘'}`, ''],
    ['median ratio of pairs', `${round(pairRatio)} ${pairRatio >= 0.95 ? '✔' : '✘'}`, withRoots.map((x, i) => round(x / withoutRoots[i]!)).join(' ')],
    ['with roots by the wasm module (C)', String(round(median(wasmRoots), 1)), wasmRoots.map(x => round(x, 1)).join(' ')],
    ['  median ratio of pairs C / B', String(round(wasmPairRatio)), wasmRoots.map((x, i) => round(x / withoutRoots[i]!)).join(' ')]
  ])
  printTable(['put 128 MiB: CPU s, client + 6 farmers', 'median', 'runs'], [
    ['with Merkle roots', String(round(median(putCpu.with))), putCpu.with.map(x => round(x)).join(' ')],
    ['  without (baseline)', String(round(median(putCpu.without))), putCpu.without.map(x => round(x)).join(' ')],
    ['with roots by the wasm module (C)', String(round(median(putCpu.wasm))), putCpu.wasm.map(x => round(x)).join(' ')],
    ['CPU without / with', String(round(cpuRatio, 3)), ''],
    ['CPU without / C', String(round(median(putCpu.without) / median(putCpu.wasm), 3)), '']
  ])

  const result = {
    trees_1mib: trees,
    challenge,
    throughput_1mib: { audits_per_s: auditRate.perSecond, audits_busy: auditRate.busy, audit_farmer_cpu: auditRate.farmerCpu, gets_per_s_baseline: getRate.perSecond, get_farmer_cpu: getRate.farmerCpu, auditors: AUDITORS, in_flight_each: PER_AUDITOR },
    put: { with_roots_mbps: round(median(withRoots), 1), without_roots_mbps: round(median(withoutRoots), 1), ratio: round(putRatio, 3), pair_ratio: round(pairRatio, 3), runs_with: withRoots.map(x => round(x, 1)), runs_without: withoutRoots.map(x => round(x, 1)), cpu_s_with: round(median(putCpu.with)), cpu_s_without: round(median(putCpu.without)), cpu_ratio: round(cpuRatio, 3), wasm_roots_mbps: round(median(wasmRoots), 1), wasm_pair_ratio: round(wasmPairRatio, 3), runs_wasm: wasmRoots.map(x => round(x, 1)), cpu_s_wasm: round(median(putCpu.wasm)), bytes: PUT_BYTES, policy: 'RS(4,2)', farmers: PUT_FARMERS },
    runs
  }
  if (args.json) console.log(JSON.stringify(result))
} finally {
  await Promise.all(nodes.map(async n => { await n.stop() }))
  await Promise.all(children.map(async c => await stopChild(c)))
  pool.terminate()
  wasmPool.terminate()
  await rm(root, { recursive: true, force: true })
}
