import type { Libp2p, Stream } from '@libp2p/interface'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { sha256Hex } from '../../core/hash.ts'
import { createNodeLibp2p } from '../../net/libp2p.node.ts'
import { FRAGMENT_PROTOCOL } from '../../net/protocols/fragment-constants.ts'
import { encodeFrame } from '../../net/protocols/frames.ts'
import { FrameReader, streamSource } from '../../net/protocols/stream-io.ts'
import { MemoryFragmentStore } from '../../stores/memory.ts'
import { randomFragment, sameBytes, startTestClient, startTestFarmer } from '../../../test/support/test-grid.ts'
import type { TestFarmer } from '../../../test/support/test-grid.ts'
import type { FarmerClient } from './farmer-client.ts'

const MiB = 1024 * 1024
const STAT = { capacity: 1, used: 0, free: 1, count: 0, region: 'r', tier: 'live', kind: 'full', version: '0' }
/** The owner key the puts claim with (only its public half travels). */
const owner = { publicKey: Buffer.alloc(32, 5).toString('base64') }
const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

let node: Libp2p
let client: FarmerClient
beforeAll(async () => { ({ node, client } = await startTestClient({ timeoutMs: 10_000 })) })
afterAll(async () => { await node.stop() })

describe('FarmerClient against a real farmer', () => {
  let farmer: TestFarmer
  beforeAll(async () => {
    farmer = await startTestFarmer(new MemoryFragmentStore({ quota: 64 * MiB }),
      { maxFragmentBytes: 4 * MiB, maxPutBytesInFlight: 6 * MiB, idleTimeoutMs: 400 })
  })
  afterAll(async () => { await farmer.stop() })

  it('aborting a PUT rejects with AbortError, stores nothing, and the farmer keeps serving', async () => {
    const big = await randomFragment(4 * MiB)
    const ac = new AbortController()
    const put = client.put(farmer.addr, big.id, big.bytes, { owner, signal: ac.signal })
    setTimeout(() => { ac.abort() }, 5)
    await expect(put).rejects.toMatchObject({ name: 'AbortError' })
    await expect(client.get(farmer.addr, big.id, { signal: AbortSignal.abort() })).rejects.toMatchObject({ name: 'AbortError' })
    const small = await randomFragment(1000)
    await client.put(farmer.addr, small.id, small.bytes, { owner })
    expect(sameBytes(await client.get(farmer.addr, small.id), small.bytes)).toBe(true)
    expect(await client.has(farmer.addr, [big.id])).toEqual([false])
    await expect.poll(() => farmer.service.metrics.snapshot().activeStreams).toBe(0)
  })

  it('GET reads into the given buffer when it has the fragment\'s size, else into a new one', async () => {
    const f = await randomFragment(3000)
    await client.put(farmer.addr, f.id, f.bytes, { owner })
    const segment = new Uint8Array(9000)
    const slot = segment.subarray(3000, 6000)
    const got = await client.get(farmer.addr, f.id, { into: slot })
    expect(got).toBe(slot)
    expect(sameBytes(segment.subarray(3000, 6000), f.bytes)).toBe(true)
    expect(segment.subarray(0, 3000).every(b => b === 0) && segment.subarray(6000).every(b => b === 0)).toBe(true)
    const wrong = new Uint8Array(2999)
    const other = await client.get(farmer.addr, f.id, { into: wrong })
    expect(other).not.toBe(wrong)
    expect(sameBytes(other, f.bytes)).toBe(true)
  })

  it('refuses a fragment over the farmer\'s size limit with TOO_LARGE', async () => {
    const f = await randomFragment(4 * MiB + 1)
    await expect(client.put(farmer.addr, f.id, f.bytes, { owner })).rejects.toMatchObject({ name: 'TooLargeError', code: 'TOO_LARGE' })
    const huge = new Uint8Array(16 * MiB + 1)
    await expect(client.put(farmer.addr, f.id, huge, { owner })).rejects.toMatchObject({ code: 'TOO_LARGE' })
  })

  it('refuses PUTs past the in-flight byte budget with BUSY, without retrying', async () => {
    const frags = await Promise.all([0, 1].map(async () => await randomFragment(4 * MiB)))
    const results = await Promise.allSettled(frags.map(async f => await client.put(farmer.addr, f.id, f.bytes, { owner })))
    const codes = results.map(r => (r.status === 'fulfilled' ? 'ok' : (r.reason as { code: string }).code)).sort()
    expect(codes).toEqual(['BUSY', 'ok'])
    expect(farmer.service.metrics.snapshot().putBytesInFlight).toBe(0)
  })

  it('answers a silent stream with TIMEOUT after the idle time', async () => {
    const stream = await node.dialProtocol(farmer.addr, FRAGMENT_PROTOCOL)
    stream.send(new Uint8Array([0, 0])) // half a length prefix, then silence
    const reader = new FrameReader(streamSource(stream))
    const header = await reader.readHeader(16384, AbortSignal.timeout(5000))
    expect(JSON.parse(new TextDecoder().decode(header))).toMatchObject({ ok: false, code: 'TIMEOUT' })
    stream.abort(new Error('done'))
  })

  it('splits HAS batches above 1024 ids', async () => {
    const f = await randomFragment(100)
    await client.put(farmer.addr, f.id, f.bytes, { owner })
    const ids = await Promise.all(Array.from({ length: 1500 }, async (_, i) => await sha256Hex(new Uint8Array([i & 255, i >> 8]))))
    ids[1400] = f.id
    const held = await client.has(farmer.addr, ids)
    expect(held.length).toBe(1500)
    expect(held.filter(Boolean)).toEqual([true])
    expect(held[1400]).toBe(true)
  })
})

describe('FarmerClient against scripted farmers', () => {
  let fake: Libp2p
  let behave: (stream: Stream, call: number) => Promise<void>
  let calls = 0
  let active = 0
  let peak = 0

  beforeAll(async () => {
    fake = await createNodeLibp2p({ listen: ['/ip4/127.0.0.1/tcp/0/ws'] })
    await fake.handle(FRAGMENT_PROTOCOL, async (stream) => {
      const call = ++calls
      active++
      peak = Math.max(peak, active)
      try { await behave(stream, call) } catch { /* the test decides */ } finally { active-- }
    }, { maxInboundStreams: 64 })
  })
  afterEach(() => { calls = 0; peak = 0 })
  afterAll(async () => { await fake.stop() })
  const addr = (): ReturnType<Libp2p['getMultiaddrs']>[number] => fake.getMultiaddrs()[0]!

  async function answer (stream: Stream, header: object, body?: Uint8Array): Promise<void> {
    const reader = new FrameReader(streamSource(stream))
    await reader.readHeader(16384)
    await reader.discardToEnd()
    stream.send(encodeFrame(header))
    if (body !== undefined) stream.send(body)
    await stream.close()
  }

  it('keeps at most maxStreamsPerFarmer streams open to one farmer', async () => {
    const limited = (await startTestClient({ maxStreamsPerFarmer: 2 }))
    behave = async (stream) => { await sleep(100); await answer(stream, { ok: true, stat: STAT }) }
    const stats = await Promise.all(Array.from({ length: 6 }, async () => await limited.client.stat(addr())))
    expect(stats).toHaveLength(6)
    expect(peak).toBe(2)
    await limited.node.stop()
  })

  it('retries a read once after a transport failure, and never a refusal', async () => {
    behave = async (stream, call) => {
      if (call === 1) { stream.abort(new Error('flaky')); return }
      await answer(stream, { ok: true, stat: STAT })
    }
    expect(await client.stat(addr())).toEqual(STAT)
    expect(calls).toBe(2)
    calls = 0
    behave = async (stream) => { await answer(stream, { ok: false, code: 'BUSY', message: 'busy' }) }
    await expect(client.stat(addr())).rejects.toMatchObject({ name: 'FarmerBusyError', code: 'BUSY', details: { remote: true } })
    expect(calls).toBe(1)
  })

  it('gives up after the retry with FarmerUnreachableError', async () => {
    behave = async (stream) => { stream.abort(new Error('down')) }
    await expect(client.stat(addr())).rejects.toMatchObject({ name: 'FarmerUnreachableError', code: 'UNREACHABLE' })
    expect(calls).toBe(2)
  })

  it('reports bytes that do not hash to the id as HashMismatchError', async () => {
    const f = await randomFragment(1000)
    behave = async (stream) => { await answer(stream, { ok: true, size: 1000 }, new Uint8Array(1000)) }
    await expect(client.get(addr(), f.id)).rejects.toMatchObject({ name: 'HashMismatchError', details: { remote: false } })
  })

  it('reports a malformed answer as BadResponseError', async () => {
    behave = async (stream) => { await answer(stream, { ok: 'yes' }) }
    await expect(client.stat(addr())).rejects.toMatchObject({ name: 'BadResponseError', code: 'BAD_RESPONSE' })
    behave = async (stream) => { await answer(stream, { ok: true, held: '1' }) }
    await expect(client.has(addr(), ['a'.repeat(64), 'b'.repeat(64)])).rejects.toMatchObject({ code: 'BAD_RESPONSE' })
  })

  it('times out a farmer that never answers with TimeoutError', async () => {
    const impatient = await startTestClient({ timeoutMs: 300 })
    behave = async () => { await sleep(1000) }
    const t0 = Date.now()
    await expect(impatient.client.stat(addr())).rejects.toMatchObject({ name: 'TimeoutError', code: 'TIMEOUT' })
    expect(Date.now() - t0).toBeLessThan(900)
    await impatient.node.stop()
  })
})
