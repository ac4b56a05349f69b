// Owned storage on a real farmer over real libp2p on loopback: every fragment is claimed by owner
// keys with leases, deletes remove only the signer's claim, no owner or peer fills a farmer for
// free, "already held" must be proven, and unrenewed leases end with the bytes coming back.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Libp2p, Stream } from '@libp2p/interface'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import type { FragmentStore } from '../core/fragment-store.ts'
import { sha256Hex } from '../core/hash.ts'
import { generateOwnerKey, newNonce, signRenew } from '../core/owner-key.ts'
import type { OwnerKey } from '../core/owner-key.ts'
import { createNodeLibp2p } from '../net/libp2p.node.ts'
import { FRAGMENT_PROTOCOL } from '../net/protocols/fragment-constants.ts'
import { encodeFrame, encodeIds, parseHeaderObject } from '../net/protocols/frames.ts'
import type { RequestHeader } from '../net/protocols/frames.ts'
import { FrameReader, streamSource } from '../net/protocols/stream-io.ts'
import { FsFragmentStore } from '../stores/fs.ts'
import { MemoryFragmentStore } from '../stores/memory.ts'
import { exchange, randomFragment, sameBytes, startTestClient, startTestFarmer } from '../../test/support/test-grid.ts'
import type { TestClient, TestFarmer } from '../../test/support/test-grid.ts'

const KiB = 1024
const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }
const cleanups: Array<() => Promise<void>> = []
afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c() })

async function farmerOn (store: FragmentStore = new MemoryFragmentStore(), init: Parameters<typeof startTestFarmer>[1] = {}): Promise<TestFarmer> {
  const f = await startTestFarmer(store, init)
  cleanups.push(async () => { await f.stop(); await store.close() })
  return f
}

async function clientNode (): Promise<TestClient> {
  const c = await startTestClient({ timeoutMs: 10_000 })
  cleanups.push(async () => { await c.node.stop() })
  return c
}

/** The code a call rejects with, or 'ok'. */
async function outcome (p: Promise<unknown>): Promise<string> {
  return await p.then(() => 'ok', (e: { code?: string, name?: string }) => e.code ?? e.name ?? 'error')
}

describe('claims on a shared fragment', () => {
  it('a squatter who stores the owner\'s fragment first cannot remove the owner\'s copy; each delete removes only its signer\'s claim', async () => {
    const farmer = await farmerOn()
    const { client } = await clientNode()
    const [owner, squatter] = [await generateOwnerKey(), await generateOwnerKey()]
    const f = await randomFragment(40 * KiB)
    expect(await client.put(farmer.addr, f.id, f.bytes, { owner: squatter })).toEqual({ stored: true })
    // The owner's PUT finds it held: proven from the farmer's copy, and the owner's claim is added.
    expect(await client.put(farmer.addr, f.id, f.bytes, { owner })).toEqual({ stored: false })
    expect((await farmer.store.meta(f.id))?.claims.map(c => c.owner).sort()).toEqual([owner.publicKey, squatter.publicKey].sort())

    await client.delete(farmer.addr, f.id, squatter)
    expect(await client.has(farmer.addr, [f.id])).toEqual([true])
    expect(sameBytes(await client.get(farmer.addr, f.id), f.bytes)).toBe(true)
    await client.delete(farmer.addr, f.id, owner)
    expect(await client.has(farmer.addr, [f.id])).toEqual([false])
    expect((await client.stat(farmer.addr)).used).toBe(0)

    // The other order: the owner's delete completes although the squatter's claim keeps the bytes.
    const g = await randomFragment(30 * KiB)
    await client.put(farmer.addr, g.id, g.bytes, { owner: squatter })
    await client.put(farmer.addr, g.id, g.bytes, { owner })
    await client.delete(farmer.addr, g.id, owner)
    expect((await farmer.store.meta(g.id))?.claims.map(c => c.owner)).toEqual([squatter.publicKey])
    await client.delete(farmer.addr, g.id, squatter)
    expect(await client.has(farmer.addr, [g.id])).toEqual([false])
  })

  it('a farmer whose own copy rotted takes the body of an "already held" PUT instead of answering with a proof', async () => {
    const store = new MemoryFragmentStore()
    const farmer = await farmerOn(store)
    const { client } = await clientNode()
    const owner = await generateOwnerKey()
    const f = await randomFragment(20 * KiB)
    await client.put(farmer.addr, f.id, f.bytes, { owner })
    store.corruptForTesting(f.id)
    expect(await client.put(farmer.addr, f.id, f.bytes, { owner })).toEqual({ stored: true })
    expect(sameBytes(await client.get(farmer.addr, f.id), f.bytes)).toBe(true)
  })
})

describe('limits per owner and per peer', () => {
  it('one owner stores until refused for its own share; another owner on another peer still stores', async () => {
    // 1 MiB offered: a quarter (256 KiB) per owner and per peer.
    const farmer = await farmerOn(new MemoryFragmentStore({ quota: 1024 * KiB }))
    const hog = await clientNode()
    const honest = await clientNode()
    const owner = await generateOwnerKey()
    let stored = 0
    let refusal: unknown
    for (let i = 0; i < 40 && refusal === undefined; i++) {
      const f = await randomFragment(30 * KiB)
      await hog.client.put(farmer.addr, f.id, f.bytes, { owner }).then(() => { stored++ }, (e: unknown) => { refusal = e })
    }
    expect(refusal).toMatchObject({ name: 'QuotaExceededError', code: 'QUOTA_EXCEEDED', details: { scope: 'owner', limit: 256 * KiB } })
    expect(stored).toBe(8) // 8 × 30 KiB fit in 256 KiB, a ninth does not
    expect((await hog.client.stat(farmer.addr)).free).toBeGreaterThan(700 * KiB)
    const f = await randomFragment(30 * KiB)
    expect(await honest.client.put(farmer.addr, f.id, f.bytes, { owner: await generateOwnerKey() })).toEqual({ stored: true })
  })

  it('one peer rotating owner keys is refused for the peer\'s share, and a restarted farmer still counts what it holds', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'shardfarm-claims-'))
    cleanups.push(async () => { await rm(dir, { recursive: true, force: true }) })
    const store = await FsFragmentStore.open(dir, { quota: 1024 * KiB })
    const farmer = await startTestFarmer(store)
    const { client } = await clientNode()
    let refusal: unknown
    for (let i = 0; i < 40 && refusal === undefined; i++) {
      const f = await randomFragment(50 * KiB)
      await client.put(farmer.addr, f.id, f.bytes, { owner: await generateOwnerKey() }).catch((e: unknown) => { refusal = e })
    }
    expect(refusal).toMatchObject({ code: 'QUOTA_EXCEEDED', details: { scope: 'peer', limit: 256 * KiB } })
    const owner = await generateOwnerKey()
    const small = await randomFragment(10 * KiB)
    await client.put(farmer.addr, small.id, small.bytes, { owner }).catch(() => {}) // may or may not fit the peer's share
    await farmer.stop()
    await store.close()
    // Same disk, same identity of the uploader: the counts are rebuilt from the claims on disk.
    const reopened = await FsFragmentStore.open(dir, { quota: 1024 * KiB })
    const again = await farmerOn(reopened)
    const f = await randomFragment(50 * KiB)
    expect(await outcome(client.put(again.addr, f.id, f.bytes, { owner: await generateOwnerKey() }))).toBe('QUOTA_EXCEEDED')
  })
})

/** Sends a hand-made RENEW of `ids`; `tamper` changes what is signed or sent. */
async function rawRenew (node: Libp2p, farmer: TestFarmer, ids: string[], key: OwnerKey,
  tamper: { farmer?: string, ts?: number, nonce?: string, signer?: OwnerKey, count?: number } = {}): Promise<unknown> {
  const body = encodeIds(ids)
  const ts = tamper.ts ?? Date.now()
  const nonce = tamper.nonce ?? newNonce()
  const sig = await signRenew(tamper.signer ?? key, { farmer: tamper.farmer ?? farmer.node.peerId.toString(), ts, nonce, body: await sha256Hex(body) })
  const req: RequestHeader = { op: 'RENEW', owner: key.publicKey, count: tamper.count ?? ids.length, ts, nonce, sig }
  return await exchange(node, farmer.addr, { op: 'RENEW', req, body }, { signal: AbortSignal.timeout(5000), maxFragmentBytes: 1 << 24 })
}

describe('leases', () => {
  it('unrenewed claims expire and their space comes back; a renewed one survives', async () => {
    const farmer = await farmerOn(new MemoryFragmentStore({ quota: 1024 * KiB }), { leaseMs: 1500, collectIntervalMs: 100 })
    const { client, node } = await clientNode()
    const owner = await generateOwnerKey()
    const [kept, dropped, absent] = [await randomFragment(100 * KiB), await randomFragment(120 * KiB), await randomFragment(10)]
    await client.put(farmer.addr, kept.id, kept.bytes, { owner })
    await client.put(farmer.addr, dropped.id, dropped.bytes, { owner })
    expect((await client.stat(farmer.addr)).used).toBe(220 * KiB)
    // Renewed every 500 ms for 3 s: twice the lease.
    for (let i = 0; i < 6; i++) {
      await sleep(500)
      const res = await client.renew(farmer.addr, [kept.id, absent.id], owner)
      expect(res.renewed).toEqual([true, false])
      expect(res.expiresAt).toBeGreaterThan(Date.now() + 1000)
    }
    expect(await client.has(farmer.addr, [kept.id, dropped.id])).toEqual([true, false])
    const stat = await client.stat(farmer.addr)
    expect(stat).toMatchObject({ used: 100 * KiB, free: 924 * KiB, count: 1 })
    const m = farmer.service.metrics.snapshot()
    expect(m).toMatchObject({ claimsExpired: 1, fragmentsCollected: 1 })
    expect(farmer.service.metrics.render()).toContain('shardfarm_fragments_collected_total 1')
    expect(m.claimBytes.active).toBe(100 * KiB)
    // A raw RENEW answers bit by bit, and another owner renews nothing of this one's.
    expect(await rawRenew(node, farmer, [absent.id, kept.id], owner)).toMatchObject({ ok: true, renewed: '01' })
    expect(await rawRenew(node, farmer, [kept.id], await generateOwnerKey())).toMatchObject({ ok: true, renewed: '0' })
  })

  it('refuses a RENEW with a bad signature, a stale ts, a replayed nonce or another farmer\'s id (FORBIDDEN), and too many ids (TOO_LARGE)', async () => {
    const farmer = await farmerOn()
    const other = await farmerOn()
    const { client, node } = await clientNode()
    const owner = await generateOwnerKey()
    const f = await randomFragment(KiB)
    await client.put(farmer.addr, f.id, f.bytes, { owner })
    const before = (await farmer.store.meta(f.id))!.claims[0]!.expiresAt
    const refused = async (t: Parameters<typeof rawRenew>[4]): Promise<string> => await outcome(rawRenew(node, farmer, [f.id], owner, t))
    expect(await refused({ signer: await generateOwnerKey() })).toBe('FORBIDDEN')
    expect(await refused({ ts: Date.now() - 6 * 60_000 })).toBe('FORBIDDEN')
    expect(await refused({ farmer: other.node.peerId.toString() })).toBe('FORBIDDEN')
    const nonce = newNonce()
    expect(await refused({ nonce })).toBe('ok')
    expect(await refused({ nonce })).toBe('FORBIDDEN')
    expect(await refused({ count: 1025 })).toBe('TOO_LARGE')
    // Only the one good request moved the lease.
    expect((await farmer.store.meta(f.id))!.claims[0]!.expiresAt).toBeGreaterThanOrEqual(before)
    expect(farmer.service.metrics.snapshot().errors.FORBIDDEN).toBe(4)
  })
})

/** A farmer that claims to hold everything: it answers every PUT `stored: false` with `proof` (or none). */
async function liar (proof: string | undefined): Promise<TestFarmer['addr']> {
  const node = await createNodeLibp2p({ listen: ['/ip4/127.0.0.1/tcp/0/ws'] })
  cleanups.push(async () => { await node.stop() })
  await node.handle(FRAGMENT_PROTOCOL, (stream: Stream) => {
    void (async () => {
      const reader = new FrameReader(streamSource(stream))
      parseHeaderObject(await reader.readHeader(16 * KiB))
      stream.send(encodeFrame(proof === undefined ? { ok: true, stored: false } : { ok: true, stored: false, proof }))
      await stream.close()
    })().catch(() => { stream.abort(new Error('liar failed')) })
  })
  return node.getMultiaddrs()[0]!
}

describe('possession proof', () => {
  it('a farmer answering "already held" with no proof or a wrong one makes put throw PossessionProofError', async () => {
    const { client } = await clientNode()
    const owner = await generateOwnerKey()
    const f = await randomFragment(8 * KiB)
    for (const proof of [undefined, 'ab'.repeat(32), await sha256Hex(f.bytes)]) {
      await expect(client.put(await liar(proof), f.id, f.bytes, { owner }))
        .rejects.toMatchObject({ name: 'PossessionProofError', code: 'POSSESSION_PROOF_FAILED' })
    }
  })
})

afterAll(async () => { for (const c of cleanups.splice(0).reverse()) await c() })
