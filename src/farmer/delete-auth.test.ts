import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateOwnerKey, newNonce, signDelete, toBase64 } from '../core/owner-key.ts'
import type { OwnerKey } from '../core/owner-key.ts'
import { MemoryFragmentStore } from '../stores/memory.ts'
import type { Libp2p } from '@libp2p/interface'
import { exchange, randomFragment, startTestClient, startTestFarmer } from '../../test/support/test-grid.ts'
import type { TestClient, TestFarmer } from '../../test/support/test-grid.ts'

describe('DELETE authorisation', () => {
  let a: TestFarmer
  let b: TestFarmer
  let node: Libp2p
  let client: TestClient['client']
  let owner: OwnerKey

  beforeAll(async () => {
    a = await startTestFarmer(new MemoryFragmentStore())
    b = await startTestFarmer(new MemoryFragmentStore())
    ;({ node, client } = await startTestClient({ timeoutMs: 10_000 }))
    owner = await generateOwnerKey()
  })
  afterAll(async () => {
    await node.stop()
    await a.stop()
    await b.stop()
  })

  /** Sends a hand-made DELETE, signed over `claimFor` (which may name another farmer or time). */
  async function rawDelete (to: TestFarmer, id: string, claim: { farmer: string, ts: number, nonce?: string }, key = owner, named = key.publicKey) {
    const nonce = claim.nonce ?? newNonce()
    const sig = await signDelete(key, { id, farmer: claim.farmer, ts: claim.ts, nonce })
    return await exchange(node, to.addr, { op: 'DELETE', req: { op: 'DELETE', id, owner: named, ts: claim.ts, nonce, sig } },
      { signal: AbortSignal.timeout(5000), maxFragmentBytes: 1 << 24 }).then(() => 'deleted', (e: Error & { code: string }) => e.code)
  }

  async function putBoth (): Promise<string> {
    const f = await randomFragment(1000)
    await client.put(a.addr, f.id, f.bytes, { owner })
    await client.put(b.addr, f.id, f.bytes, { owner })
    return f.id
  }

  it('refuses a signature made for another farmer, and honours it on its own farmer', async () => {
    const id = await putBoth()
    const now = Date.now()
    expect(await rawDelete(b, id, { farmer: a.node.peerId.toString(), ts: now })).toBe('FORBIDDEN')
    expect(await client.has(b.addr, [id])).toEqual([true])
    expect(await rawDelete(a, id, { farmer: a.node.peerId.toString(), ts: now })).toBe('deleted')
  })

  it('refuses stale and future timestamps (over 5 minutes of skew)', async () => {
    const id = await putBoth()
    const farmer = a.node.peerId.toString()
    expect(await rawDelete(a, id, { farmer, ts: Date.now() - 6 * 60_000 })).toBe('FORBIDDEN')
    expect(await rawDelete(a, id, { farmer, ts: Date.now() + 6 * 60_000 })).toBe('FORBIDDEN')
    expect(await client.has(a.addr, [id])).toEqual([true])
  })

  it('refuses a replay of a request already honoured, even after the fragment comes back', async () => {
    const f = await randomFragment(1000)
    await client.put(a.addr, f.id, f.bytes, { owner })
    const claim = { farmer: a.node.peerId.toString(), ts: Date.now(), nonce: newNonce() }
    expect(await rawDelete(a, f.id, claim)).toBe('deleted')
    await client.put(a.addr, f.id, f.bytes, { owner })
    expect(await rawDelete(a, f.id, claim)).toBe('FORBIDDEN')
    expect(await client.has(a.addr, [f.id])).toEqual([true])
  })

  it('refuses an unsigned (zero) signature, a wrong key, and a malformed signature', async () => {
    const id = await putBoth()
    const zeroSig = toBase64(new Uint8Array(64))
    const ts = Date.now()
    const signal = AbortSignal.timeout(5000)
    const unsigned = await exchange(node, a.addr, { op: 'DELETE', req: { op: 'DELETE', id, owner: owner.publicKey, ts, nonce: newNonce(), sig: zeroSig } },
      { signal, maxFragmentBytes: 1 << 24 }).catch((e: Error) => e)
    expect(unsigned).toMatchObject({ name: 'ForbiddenError', code: 'FORBIDDEN' })
    const stranger = await generateOwnerKey()
    // A stranger signing in the owner's name is refused; in its own name it removes only its own
    // claim, which it does not have: answered, and the owner's copy stays.
    expect(await rawDelete(a, id, { farmer: a.node.peerId.toString(), ts }, stranger, owner.publicKey)).toBe('FORBIDDEN')
    expect(await rawDelete(a, id, { farmer: a.node.peerId.toString(), ts }, stranger)).toBe('deleted')
    const malformed = await exchange(node, a.addr, { op: 'DELETE', req: { op: 'DELETE', id, owner: owner.publicKey, ts, nonce: newNonce(), sig: 'AA==' } },
      { signal, maxFragmentBytes: 1 << 24 }).catch((e: Error) => e)
    expect(malformed).toMatchObject({ name: 'BadRequestError', code: 'BAD_REQUEST' })
    expect(await client.has(a.addr, [id])).toEqual([true])
    expect(a.service.metrics.snapshot().errors.FORBIDDEN).toBeGreaterThanOrEqual(2)
  })
})
