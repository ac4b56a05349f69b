// Two PUTs of one fragment by one owner that race (both find it absent, both send the body) leave
// one claim in the store, and must count once toward the owner's and the peer's limits: a farmer
// that counted both refused that owner's next fragment as past its share until it restarted.
import { afterEach, describe, expect, it } from 'vitest'
import { generateOwnerKey, newNonce } from '../core/owner-key.ts'
import { FRAGMENT_PROTOCOL } from '../net/protocols/fragment-constants.ts'
import { encodeFrame, parseHeaderObject } from '../net/protocols/frames.ts'
import type { RequestHeader } from '../net/protocols/frames.ts'
import { FrameReader, streamSource } from '../net/protocols/stream-io.ts'
import { MemoryFragmentStore } from '../stores/memory.ts'
import { randomFragment, startTestClient, startTestFarmer } from '../../test/support/test-grid.ts'

const KiB = 1024
const cleanups: Array<() => Promise<void>> = []
afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c() })

describe('racing PUTs of one fragment', () => {
  it('count once toward the owner\'s limit, so the owner\'s next fragment still fits', async () => {
    const size = 256 * KiB
    const store = new MemoryFragmentStore({ quota: 4096 * KiB })
    // Room for exactly two fragments of this owner.
    const farmer = await startTestFarmer(store, { maxBytesPerOwner: 2 * size })
    cleanups.push(async () => { await farmer.stop(); await store.close() })
    const { node, client } = await startTestClient({ timeoutMs: 10_000 })
    cleanups.push(async () => { await node.stop() })
    const owner = await generateOwnerKey()
    const f = await randomFragment(size)

    // The first PUT sends its header and all of its body but the last byte: the farmer found the id
    // absent and is receiving.
    const slow = await node.dialProtocol(farmer.addr, FRAGMENT_PROTOCOL, { signal: AbortSignal.timeout(5000) })
    const req: RequestHeader = { op: 'PUT', id: f.id, size, owner: owner.publicKey, nonce: newNonce() }
    slow.send(encodeFrame(req))
    if (!slow.send(f.bytes.subarray(0, size - 1))) await slow.onDrain()
    // Past the HAS check: the farmer reserved the declared size for it.
    for (let i = 0; farmer.service.metrics.snapshot().putBytesReserved < size; i++) {
      if (i > 200) throw new Error('the farmer never took the first PUT')
      await new Promise(resolve => setTimeout(resolve, 25))
    }
    // The second PUT of the same fragment, same owner, overtakes it and stores it.
    expect(await client.put(farmer.addr, f.id, f.bytes, { owner })).toEqual({ stored: true })
    // Then the first one ends, and succeeds too: the farmer holds the fragment.
    slow.send(f.bytes.subarray(size - 1))
    await slow.close()
    const reader = new FrameReader(streamSource(slow))
    expect(parseHeaderObject(await reader.readHeader(64 * KiB, AbortSignal.timeout(5000)))).toMatchObject({ ok: true })

    // One claim of this owner on one fragment: the owner holds `size` bytes here, not twice that.
    expect((await store.meta(f.id))?.claims.map(c => c.owner)).toEqual([owner.publicKey])
    const g = await randomFragment(size)
    expect(await client.put(farmer.addr, g.id, g.bytes, { owner })).toEqual({ stored: true })
    // And the limit still holds: a third fragment is past the owner's share.
    const h = await randomFragment(size)
    await expect(client.put(farmer.addr, h.id, h.bytes, { owner })).rejects.toMatchObject({ code: 'QUOTA_EXCEEDED', details: { scope: 'owner' } })
  })
})
