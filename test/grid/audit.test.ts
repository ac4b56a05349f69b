// Proofs of storage over real libp2p on loopback: a farmer (`FarmerService` + `AuditService`) in
// this process, auditors on their own nodes. Honest farmers pass, a farmer that lost a tenth of a
// fragment's leaves is caught within the challenges docs/protocol.md says, an absent fragment is
// `missing`, malformed and oversized challenges get typed codes, batches get a verdict per copy (and
// a farmer whose batch answers lie gets failed ones), and a flood gets `BUSY` while
// another peer's audit still passes.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Libp2p } from '@libp2p/interface'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AuditClient } from '../../src/client/adapters/audit-client.ts'
import type { FarmerRef } from '../../src/client/ports.ts'
import type { FragmentStore } from '../../src/core/fragment-store.ts'
import { LEAF_BYTES, maxPathLength, merkleRoot } from '../../src/core/merkle.ts'
import { AuditService } from '../../src/farmer/audit-service.ts'
import type { AuditServiceInit } from '../../src/farmer/audit-service.ts'
import { AUDIT_BATCH_PROTOCOL, AUDIT_PROTOCOL, MAX_AUDIT_BATCH_RESPONSE_BYTES, MAX_AUDIT_RESPONSE_BYTES } from '../../src/net/protocols/audit.ts'
import { MAX_FRAGMENT_BYTES } from '../../src/net/protocols/fragment-constants.ts'
import { parseHeaderObject } from '../../src/net/protocols/frames.ts'
import { FrameReader, streamSource } from '../../src/net/protocols/stream-io.ts'
import { FsFragmentStore } from '../../src/stores/fs.ts'
import { MemoryFragmentStore } from '../../src/stores/memory.ts'
import type { Logger } from '../../src/core/logger.ts'
import { startFarmer } from '../../src/farmer/full.node.ts'
import { httpText } from './helpers.ts'
import { randomFragment, startTestClient, startTestFarmer } from '../support/test-grid.ts'
import type { TestClient, TestFarmer } from '../support/test-grid.ts'

/** `inner` with some members replaced (`undefined` hides one), whatever else the port has. */
function wrapStore (inner: FragmentStore, overrides: Partial<Record<keyof FragmentStore, unknown>>): FragmentStore {
  return new Proxy(inner, {
    get: (target, prop, receiver) => {
      if (Object.hasOwn(overrides, prop)) return overrides[prop as keyof FragmentStore]
      const v: unknown = Reflect.get(target, prop, receiver)
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v
    }
  })
}

/** A store that lies: it serves every fragment with the leaves in `lost` zeroed, and has no `openRead`. */
function leafLosingStore (inner: FragmentStore, lost: (leaf: number) => boolean): FragmentStore {
  return wrapStore(inner, {
    openRead: undefined,
    get: async (id: string, options?: { signal?: AbortSignal }) => {
      const bytes = (await inner.get(id, options)).slice()
      for (let i = 0; i * LEAF_BYTES < bytes.length; i++) if (lost(i)) bytes.fill(0, i * LEAF_BYTES, (i + 1) * LEAF_BYTES)
      return bytes
    }
  })
}

/** A store whose reads take `ms` first, so that audits overlap. */
function slowStore (inner: FragmentStore, ms: number): FragmentStore {
  return wrapStore(inner, {
    openRead: undefined,
    get: async (id: string, options?: { signal?: AbortSignal }) => { await new Promise(resolve => setTimeout(resolve, ms)); return await inner.get(id, options) }
  })
}

interface AuditFarmer { farmer: TestFarmer, audits: AuditService, ref: FarmerRef }

async function startAuditFarmer (store: FragmentStore, init: AuditServiceInit = {}): Promise<AuditFarmer> {
  const farmer = await startTestFarmer(store)
  const audits = new AuditService({ libp2p: farmer.node, store }, init)
  await audits.start()
  return { farmer, audits, ref: { peerId: farmer.node.peerId.toString(), addrs: [farmer.addr.toString()] } }
}

/**
 * Stores a fragment on the farmer through its store: the fragment protocol's PUT is not what these
 * tests are about, and audits read whatever the store holds.
 */
async function put (f: AuditFarmer, frag: { id: string, bytes: Uint8Array }): Promise<void> {
  await f.farmer.store.put(frag.id, frag.bytes)
}

async function stopAuditFarmer (f: AuditFarmer | undefined): Promise<void> {
  await f?.audits.stop()
  await f?.farmer.stop()
}

/** Sends `header` bytes (already framed, or not) on a fresh audit stream; returns the answer header. */
async function rawAudit (node: Libp2p, f: AuditFarmer, bytes: Uint8Array, protocol = AUDIT_PROTOCOL): Promise<Record<string, unknown>> {
  const signal = AbortSignal.timeout(5000)
  const stream = await node.dialProtocol(f.farmer.addr, protocol, { signal })
  const reader = new FrameReader(streamSource(stream))
  stream.send(bytes)
  await stream.close({ signal }).catch(() => {})
  const header = parseHeaderObject(await reader.readHeader(protocol === AUDIT_PROTOCOL ? MAX_AUDIT_RESPONSE_BYTES : MAX_AUDIT_BATCH_RESPONSE_BYTES, signal))
  if (stream.status === 'open') stream.abort(new Error('done'))
  return header
}

function frame (json: unknown, declaredLength?: number): Uint8Array {
  const body = new TextEncoder().encode(typeof json === 'string' ? json : JSON.stringify(json))
  const out = new Uint8Array(4 + body.length)
  new DataView(out.buffer).setUint32(0, declaredLength ?? body.length)
  out.set(body, 4)
  return out
}

describe('audit protocol', () => {
  let client: TestClient
  let auditor: AuditClient
  let dir: string
  let honest: AuditFarmer
  let liar: AuditFarmer
  const frags: Array<{ id: string, bytes: Uint8Array, root: string }> = []

  beforeAll(async () => {
    client = await startTestClient()
    auditor = new AuditClient(client.node)
    dir = await mkdtemp(join(tmpdir(), 'audit-'))
    honest = await startAuditFarmer(await FsFragmentStore.open(dir))
    // 1 MiB = 1024 leaves, of which the liar lost every tenth: 103 (10 %).
    liar = await startAuditFarmer(leafLosingStore(new MemoryFragmentStore(), i => i % 10 === 3))
    for (const size of [1, 5000, 1 << 20]) {
      const f = await randomFragment(size)
      frags.push({ ...f, root: merkleRoot(f.bytes) })
      await put(honest, f)
      await put(liar, f)
    }
  }, 30_000)

  afterAll(async () => {
    await stopAuditFarmer(honest)
    await stopAuditFarmer(liar)
    await client?.node.stop()
    if (dir !== undefined) await rm(dir, { recursive: true, force: true })
  })

  const fragment = (i: number): { id: string, root: string, size: number } => ({ id: frags[i]!.id, root: frags[i]!.root, size: frags[i]!.bytes.length })

  it('an honest farmer proves every fragment it holds, in a kilobyte per leaf and 47 bytes per path hash', async () => {
    for (let i = 0; i < frags.length; i++) {
      const size = frags[i]!.bytes.length
      for (let n = 0; n < 5; n++) {
        const out = await auditor.audit(honest.ref, fragment(i))
        expect(out, `fragment ${i}`).toMatchObject({ verdict: 'proven' })
        expect(out.bytes).toBeLessThan(16 * (1400 + 47 * maxPathLength(size)) + 300)
      }
    }
    expect(honest.audits.metrics.proven).toBe(15)
  })

  it('the largest fragment (16 MiB, 48 hashes per path) is proven in under half the answer cap', async () => {
    const f = await randomFragment(MAX_FRAGMENT_BYTES)
    await put(honest, f)
    const out = await auditor.audit(honest.ref, { id: f.id, root: merkleRoot(f.bytes), size: f.bytes.length })
    expect(out).toMatchObject({ verdict: 'proven' })
    expect(out.bytes).toBeGreaterThan(16 * 48 * 44) // every path whole
    expect(out.bytes).toBeLessThan(MAX_AUDIT_RESPONSE_BYTES / 2)
    await honest.farmer.store.delete(f.id)
  }, 30_000)

  it('a farmer that lost 10 % of the leaves fails within 6 challenges (99.99 %), and most challenges', async () => {
    // Escaping one 16-leaf challenge: 0.9^16 = 0.185; six in a row: 3.5e-5.
    const big = fragment(2)
    const verdicts: string[] = []
    for (let n = 0; n < 6; n++) verdicts.push((await auditor.audit(liar.ref, big)).verdict)
    expect(verdicts).toContain('failed')
    expect(verdicts).not.toContain('missing')
    // The small fragments lost their leaf 3 only where they have one: 5000 bytes = 5 leaves.
    const small = await auditor.audit(liar.ref, fragment(1))
    expect(small).toMatchObject({ verdict: 'failed', reason: 'a proof does not verify against the root' })
    // The one-byte fragment has no leaf 3: the liar still proves it.
    expect((await auditor.audit(liar.ref, fragment(0))).verdict).toBe('proven')
  })

  it('a fragment the farmer does not hold is missing, and a wrong size or root fails', async () => {
    const absent = await randomFragment(3000)
    expect((await auditor.audit(honest.ref, { id: absent.id, root: merkleRoot(absent.bytes), size: 3000 })).verdict).toBe('missing')
    expect(await auditor.audit(honest.ref, { ...fragment(1), size: 5001 })).toMatchObject({ verdict: 'failed', reason: 'size 5000, expected 5001' })
    expect(await auditor.audit(honest.ref, { ...fragment(1), root: frags[2]!.root })).toMatchObject({ verdict: 'failed' })
  })

  it('a fragment corrupted on disk is caught: the farmer drops it and answers NOT_FOUND', async () => {
    const f = await randomFragment(10_000)
    const store = honest.farmer.store as FsFragmentStore
    await put(honest, f)
    const { readdir, open } = await import('node:fs/promises')
    const files = await readdir(join(dir, 'fragments'), { recursive: true })
    const file = files.find(p => p.endsWith(f.id) || p.includes(f.id))
    expect(file).toBeDefined()
    const fh = await open(join(dir, 'fragments', file!), 'r+')
    await fh.write(new Uint8Array(16), 0, 16, 2048)
    await fh.close()
    const out = await auditor.audit(honest.ref, { id: f.id, root: merkleRoot(f.bytes), size: f.bytes.length })
    expect(out.verdict).not.toBe('proven')
    expect((await store.has([f.id]))[0]).toBe(false)
  })

  it('refuses malformed and oversized challenges with typed codes', async () => {
    const node = client.node
    const id = frags[2]!.id
    const nonce = btoa('0123456789abcdef')
    expect(await rawAudit(node, honest, frame({ id, nonce, leaves: [1] }, 5000))).toMatchObject({ ok: false, code: 'TOO_LARGE' })
    expect(await rawAudit(node, honest, frame('not json'))).toMatchObject({ ok: false, code: 'BAD_REQUEST' })
    expect(await rawAudit(node, honest, frame({ id, nonce, leaves: Array.from({ length: 17 }, (_, i) => i) }))).toMatchObject({ ok: false, code: 'TOO_LARGE' })
    expect(await rawAudit(node, honest, frame({ id, nonce, leaves: [1, 1] }))).toMatchObject({ ok: false, code: 'BAD_REQUEST' })
    expect(await rawAudit(node, honest, frame({ id, nonce: 'AAAA', leaves: [1] }))).toMatchObject({ ok: false, code: 'BAD_REQUEST' })
    expect(await rawAudit(node, honest, frame({ id: 'x', nonce, leaves: [1] }))).toMatchObject({ ok: false, code: 'BAD_REQUEST' })
    expect(await rawAudit(node, honest, frame({ id, nonce, leaves: [1024] }))).toMatchObject({ ok: false, code: 'BAD_REQUEST' })
    expect(await rawAudit(node, honest, frame({ id, nonce, leaves: [-1] }))).toMatchObject({ ok: false, code: 'BAD_REQUEST' })
    // And still serves a good one afterwards.
    const good = await rawAudit(node, honest, frame({ id, nonce, leaves: [0, 1023] }))
    expect(good).toMatchObject({ ok: true, nonce, size: 1 << 20 })
  })

  it('one batch stream proves several fragments, each with its own verdict', async () => {
    const absent = await randomFragment(3000)
    const before = honest.audits.metrics.proven
    const verdicts = (out: Array<{ verdict: string } | Error>): string[] => out.map(o => o instanceof Error ? o.name : o.verdict)
    const out = await auditor.auditMany(honest.ref, [fragment(0), fragment(1), fragment(2), { id: absent.id, root: merkleRoot(absent.bytes), size: 3000 }])
    expect(verdicts(out)).toEqual(['proven', 'proven', 'proven', 'missing'])
    expect(honest.audits.metrics.proven - before).toBe(3)
    // The liar lost leaf 3 of every fragment: the 5-leaf one fails, the one-byte one has no leaf 3.
    expect(verdicts(await auditor.auditMany(liar.ref, [fragment(0), fragment(1)]))).toEqual(['proven', 'failed'])
    // A wrong size or root fails that copy alone.
    expect(verdicts(await auditor.auditMany(honest.ref, [{ ...fragment(1), size: 5001 }, fragment(2)]))).toEqual(['failed', 'proven'])
    // The auditor keeps to the limits: at most 8 fragments, each once.
    await expect(auditor.auditMany(honest.ref, [fragment(1), fragment(1)])).rejects.toMatchObject({ code: 'BAD_REQUEST' })
    const nine = await Promise.all(Array.from({ length: 9 }, async () => await randomFragment(10)))
    await expect(auditor.auditMany(honest.ref, nine.map(f => ({ id: f.id, root: merkleRoot(f.bytes), size: 10 })))).rejects.toMatchObject({ code: 'BAD_REQUEST' })
  })

  it('refuses malformed batches with typed codes; a challenge past a fragment\'s end is refused alone', async () => {
    const node = client.node
    const nonce = btoa('0123456789abcdef')
    const item = (i: number, leaves = [0]): { id: string, leaves: number[] } => ({ id: frags[i]!.id, leaves })
    const batch = async (json: unknown, declared?: number): Promise<Record<string, unknown>> => await rawAudit(node, honest, frame(json, declared), AUDIT_BATCH_PROTOCOL)
    expect(await batch({ nonce, items: [item(2)] }, 10_000)).toMatchObject({ ok: false, code: 'TOO_LARGE' })
    const nine = await Promise.all(Array.from({ length: 9 }, async () => (await randomFragment(10)).id))
    expect(await batch({ nonce, items: nine.map(id => ({ id, leaves: [0] })) })).toMatchObject({ ok: false, code: 'TOO_LARGE' })
    expect(await batch({ nonce, items: [] })).toMatchObject({ ok: false, code: 'BAD_REQUEST' })
    expect(await batch({ nonce, items: [item(2), item(2, [1])] })).toMatchObject({ ok: false, code: 'BAD_REQUEST' })
    expect(await batch({ nonce, items: [item(2), { id: 'x', leaves: [0] }] })).toMatchObject({ ok: false, code: 'BAD_REQUEST' })
    expect(await batch({ nonce: 'AAAA', items: [item(2)] })).toMatchObject({ ok: false, code: 'BAD_REQUEST' })
    // 5000 bytes are 5 leaves: leaf 5 is past the end. That challenge is refused, the other proven.
    const mixed = await batch({ nonce, items: [item(2, [0, 1023]), item(1, [5])] })
    expect(mixed).toMatchObject({ ok: true, nonce, results: [{ ok: true, size: 1 << 20 }, { ok: false, code: 'BAD_REQUEST' }] })
  })

  it('a farmer that serves only single audits is audited one fragment at a time', async () => {
    const old = await startAuditFarmer(new MemoryFragmentStore())
    try {
      await old.farmer.node.unhandle(AUDIT_BATCH_PROTOCOL)
      for (const f of frags) await put(old, f)
      const out = await auditor.auditMany(old.ref, [fragment(0), fragment(1), fragment(2)])
      expect(out.map(o => o instanceof Error ? o.name : o.verdict)).toEqual(['proven', 'proven', 'proven'])
      expect(old.audits.metrics.proven).toBe(3)
    } finally {
      await stopAuditFarmer(old)
    }
  })

  it('a farmer whose batch answers lie or break the protocol gets failed verdicts, and one that never answers a typed TIMEOUT', async () => {
    // A farmer node that answers batches from a script: the real proofs of an honest farmer, then tampered.
    const hostile = await startTestFarmer(new MemoryFragmentStore())
    const ref: FarmerRef = { peerId: hostile.node.peerId.toString(), addrs: [hostile.addr.toString()] }
    let script: (req: { nonce: string, items: Array<{ id: string, leaves: number[] }> }, honest: Record<string, unknown>) => Uint8Array | undefined = () => undefined
    await hostile.node.handle(AUDIT_BATCH_PROTOCOL, (stream) => {
      void (async () => {
        const signal = AbortSignal.timeout(5000)
        const req = parseHeaderObject(await new FrameReader(streamSource(stream)).readHeader(4096, signal)) as { nonce: string, items: Array<{ id: string, leaves: number[] }> }
        const honestAnswer = await rawAudit(client.node, honest, frame(req), AUDIT_BATCH_PROTOCOL)
        const out = script(req, honestAnswer)
        if (out === undefined) return // silence
        stream.send(out)
        await stream.close({ signal }).catch(() => {})
      })().catch(() => { stream.abort(new Error('script failed')) })
    })
    const verdicts = async (): Promise<string[]> => (await auditor.auditMany(ref, [fragment(1), fragment(2)])).map(o => o instanceof Error ? o.name : o.verdict)
    try {
      script = (_, a) => frame(a)
      expect(await verdicts()).toEqual(['proven', 'proven']) // the honest answers, relayed
      script = (_, a) => frame({ ...a, nonce: btoa('fedcba9876543210') })
      expect(await verdicts()).toEqual(['failed', 'failed'])
      script = (_, a) => frame({ ...a, results: (a.results as unknown[]).slice(0, 1) })
      expect(await verdicts()).toEqual(['failed', 'failed']) // one result for two challenges
      script = (_, a) => { const r = a.results as Array<Record<string, unknown>>; return frame({ ...a, results: [r[1], r[0]] }) }
      expect(await verdicts()).toEqual(['failed', 'failed']) // each other's proofs
      script = (_, a) => { const r = a.results as Array<Record<string, unknown>>; return frame({ ...a, results: [r[0], { ...r[1], size: 1 }] }) }
      expect(await verdicts()).toEqual(['proven', 'failed']) // one lie fails that copy alone
      script = () => frame({ ok: true, nonce: 'x', results: [] }, MAX_AUDIT_BATCH_RESPONSE_BYTES + 1)
      expect(await verdicts()).toEqual(['failed', 'failed']) // an answer over the size limit is not read
      script = () => frame('{"ok": true, "results": [')
      expect(await verdicts()).toEqual(['failed', 'failed'])
      script = () => undefined
      const quick = new AuditClient(client.node, { timeoutMs: 1500 })
      await expect(quick.auditMany(ref, [fragment(1), fragment(2)])).rejects.toMatchObject({ code: 'TIMEOUT' })
    } finally {
      await hostile.stop()
    }
  })

  it('a peer flooding audits gets BUSY while another peer is still proven', async () => {
    const slow = await startAuditFarmer(slowStore(new MemoryFragmentStore(), 400), { maxAuditsPerPeer: 2, maxAuditsInFlight: 4 })
    const flooder = await startTestClient()
    try {
      const f = frags[2]!
      await put(slow, f)
      const floodAuditor = new AuditClient(flooder.node)
      const flood = Array.from({ length: 8 }, async () => await floodAuditor.audit(slow.ref, fragment(2)).then(o => o.verdict, (e: Error) => e.name))
      await new Promise(r => setTimeout(r, 100))
      const other = await auditor.audit(slow.ref, fragment(2))
      const results = await Promise.all(flood)
      expect(other.verdict).toBe('proven')
      expect(results.filter(r => r === 'FarmerBusyError').length).toBeGreaterThanOrEqual(5)
      expect(results.filter(r => r === 'proven').length).toBeGreaterThanOrEqual(1)
      expect(slow.audits.metrics.refused.BUSY).toBeGreaterThanOrEqual(5)
    } finally {
      await flooder.node.stop()
      await stopAuditFarmer(slow)
    }
  })

  it('a full farmer\'s /metrics counts the audits it proved, refused BUSY and failed, and the proof bytes it sent', async () => {
    const quiet: Logger = { debug () {}, info () {}, warn () {}, error () {}, child: () => quiet }
    const farmerDir = await mkdtemp(join(tmpdir(), 'audit-metrics-'))
    const farmer = await startFarmer({ dataDir: farmerDir, http: { host: '127.0.0.1', port: 0 }, log: quiet })
    const flooder = await startTestClient()
    try {
      const ref: FarmerRef = { peerId: farmer.libp2p.peerId.toString(), addrs: [farmer.addr] }
      const small = frags[1]!
      await farmer.store.put(small.id, small.bytes)
      const big = await randomFragment(MAX_FRAGMENT_BYTES)
      await farmer.store.put(big.id, big.bytes)
      const bigFragment = { id: big.id, root: merkleRoot(big.bytes), size: big.bytes.length }
      let proofBytes = 0
      for (let n = 0; n < 3; n++) {
        const out = await auditor.audit(ref, fragment(1))
        expect(out.verdict).toBe('proven')
        proofBytes += out.bytes
      }
      // Failed: a fragment it never held, and one that rotted on its disk (read, found corrupt, dropped).
      const absent = await randomFragment(3000)
      expect((await auditor.audit(ref, { id: absent.id, root: merkleRoot(absent.bytes), size: 3000 })).verdict).toBe('missing')
      const rotten = await randomFragment(10_000)
      await farmer.store.put(rotten.id, rotten.bytes)
      const { open } = await import('node:fs/promises')
      const fh = await open(join(farmerDir, 'fragments', rotten.id.slice(0, 2), rotten.id), 'r+')
      await fh.write(new Uint8Array(16), 0, 16, 2048)
      await fh.close()
      expect((await auditor.audit(ref, { id: rotten.id, root: merkleRoot(rotten.bytes), size: rotten.bytes.length })).verdict).not.toBe('proven')
      // Busy: one peer asks for eight audits of a 16 MiB fragment at once; it may have two in flight.
      const floodAuditor = new AuditClient(flooder.node)
      const flood = await Promise.all(Array.from({ length: 8 }, async () =>
        await floodAuditor.audit(ref, bigFragment).then(o => { proofBytes += o.bytes; return o.verdict }, (e: Error) => e.name)))
      const busy = flood.filter(r => r === 'FarmerBusyError').length
      expect(busy).toBeGreaterThanOrEqual(1)
      expect(flood.filter(r => r === 'proven').length).toBe(8 - busy)

      const metrics = (await httpText(`${farmer.httpUrl!}/metrics`)).body
      const value = (series: string): number => {
        const line = metrics.split('\n').find(l => l.startsWith(series + ' '))
        if (line === undefined) throw new Error(`no ${series} in\n${metrics}`)
        return Number(line.slice(series.length + 1))
      }
      expect(value('shardfarm_farmer_audits_total{result="proven"}')).toBe(3 + 8 - busy)
      expect(value('shardfarm_farmer_audits_total{result="busy"}')).toBe(busy)
      expect(value('shardfarm_farmer_audits_total{result="failed"}')).toBe(2)
      expect(value('shardfarm_farmer_audits_total{result="rejected"}')).toBe(0)
      expect(value('shardfarm_farmer_audit_refusals_total{code="NOT_FOUND"}')).toBe(2)
      expect(value('shardfarm_farmer_audit_refusals_total{code="BUSY"}')).toBe(busy)
      // What the farmer sent in proofs is what the auditors received, less their requests (a few hundred bytes each).
      const sent = value('shardfarm_farmer_audit_proof_bytes_total')
      expect(sent).toBeLessThan(proofBytes)
      expect(sent).toBeGreaterThan(proofBytes - (3 + 8 - busy) * 512)
      expect(value('shardfarm_farmer_audit_bytes_hashed_total')).toBeGreaterThanOrEqual(3 * small.bytes.length + (8 - busy) * MAX_FRAGMENT_BYTES)
      // The fragment protocol's counters sit beside them, untouched by audits.
      expect(value('shardfarm_farmer_get_bytes_total')).toBe(0)
    } finally {
      await flooder.node.stop()
      await farmer.stop()
      await rm(farmerDir, { recursive: true, force: true })
    }
  }, 60_000)

  it('an unreachable farmer is a typed error, not a verdict', async () => {
    const gone = await startAuditFarmer(new MemoryFragmentStore())
    await stopAuditFarmer(gone)
    const quick = new AuditClient(client.node, { timeoutMs: 3000 })
    await expect(quick.audit(gone.ref, fragment(1))).rejects.toMatchObject({ code: expect.stringMatching(/^(UNREACHABLE|TIMEOUT)$/) })
  })
})
