/**
 * Test fixture: a farmer (libp2p over WebSockets on 127.0.0.1 plus `FarmerService`) and a client
 * node in the test process. Multi-process grids are the CLI's tests; this keeps protocol tests fast.
 * It lives under `test/` because it joins two layers that never import each other: the farmer's
 * tests drive it through the client's side of the wire, and the client's tests need a farmer.
 */
import type { Libp2p, Stream } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { FragmentStore } from '../../src/core/fragment-store.ts'
import { sha256Hex } from '../../src/core/hash.ts'
import { createNodeLibp2p } from '../../src/net/libp2p.node.ts'
import { FarmerClient } from '../../src/client/adapters/farmer-client.ts'
import type { FarmerClientInit } from '../../src/client/adapters/farmer-client.ts'
import { exchange } from '../../src/client/adapters/exchange.ts'
import { FRAGMENT_PROTOCOL, MAX_HEADER_BYTES } from '../../src/net/protocols/fragment-constants.ts'
import { parseHeaderObject } from '../../src/net/protocols/frames.ts'
import { FrameReader, streamSource } from '../../src/net/protocols/stream-io.ts'
import { FarmerService } from '../../src/farmer/service.ts'
import type { FarmerServiceInit } from '../../src/farmer/service.ts'

/** A running farmer. */
export interface TestFarmer {
  node: Libp2p
  service: FarmerService
  store: FragmentStore
  addr: Multiaddr
  stop: () => Promise<void>
}

/** Starts a farmer over `store` listening on 127.0.0.1. */
export async function startTestFarmer (store: FragmentStore, init: Partial<FarmerServiceInit> = {}): Promise<TestFarmer> {
  const node = await createNodeLibp2p({ listen: ['/ip4/127.0.0.1/tcp/0/ws'] })
  const service = new FarmerService({ libp2p: node, store },
    { region: 'eu-west', tier: 'live', kind: 'full', version: '0.1.0', ...init })
  await service.start()
  const addr = node.getMultiaddrs()[0]
  if (addr === undefined) throw new Error('farmer has no address')
  return { node, service, store, addr, stop: async () => { await service.stop(); await node.stop() } }
}

/** A dial-only node and its `FarmerClient`. */
export interface TestClient { node: Libp2p, client: FarmerClient }

/** The client's one-request exchange, for tests that send a hand-made request (a forged DELETE). */
export { exchange }

/** A dial-only node with a `FarmerClient`. */
export async function startTestClient (init: FarmerClientInit = {}): Promise<TestClient> {
  const node = await createNodeLibp2p()
  return { node, client: new FarmerClient({ libp2p: node }, init) }
}

/** A random fragment of `size` bytes and its id. */
export async function randomFragment (size: number): Promise<{ id: string, bytes: Uint8Array }> {
  const bytes = new Uint8Array(size)
  for (let off = 0; off < size; off += 65536) crypto.getRandomValues(bytes.subarray(off, Math.min(size, off + 65536)))
  return { id: await sha256Hex(bytes), bytes }
}

/** Byte equality without vitest's element-by-element diff, which takes seconds on megabytes. */
export function sameBytes (a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && a.every((v, i) => v === b[i])
}

/** What a raw exchange saw: the answer's header object (when one arrived) and whether the stream broke. */
export interface RawOutcome { header?: Record<string, unknown>, received: number, broken: boolean, error?: string }

/**
 * Sends `chunks` as they are on a fresh fragment-protocol stream (no framing help), closes the write
 * end unless `abort` is set (then resets instead), and reads whatever comes back. For fuzzing.
 */
export async function rawCall (node: Libp2p, addr: Multiaddr, chunks: Uint8Array[],
  opts: { abort?: boolean, timeoutMs?: number } = {}): Promise<RawOutcome> {
  const signal = AbortSignal.timeout(opts.timeoutMs ?? 5000)
  let stream: Stream
  try {
    stream = await node.dialProtocol(addr, FRAGMENT_PROTOCOL, { signal })
  } catch (err) {
    return { received: 0, broken: true, error: (err as Error).name }
  }
  let broken = false
  let error: string | undefined
  try {
    for (const c of chunks) if (!stream.send(c)) await stream.onDrain({ signal })
    if (opts.abort === true) {
      stream.abort(new Error('fuzz abort'))
      return { received: 0, broken: true }
    }
    await stream.close({ signal })
  } catch (err) {
    broken = true
    error = (err as Error).name
  }
  const parts: Uint8Array[] = []
  try {
    const reader = new FrameReader(streamSource(stream))
    const head = new Uint8Array(4)
    const n = await reader.readInto(head, signal)
    if (n === 4) {
      const body = new Uint8Array(new DataView(head.buffer).getUint32(0))
      if (body.byteLength <= MAX_HEADER_BYTES && await reader.readInto(body, signal) === body.byteLength) parts.push(body)
    }
    await reader.discardToEnd(signal)
  } catch (err) {
    broken = true
    error ??= (err as Error).name
  }
  if (stream.status === 'open') stream.abort(new Error('done'))
  const header = parts[0] === undefined ? undefined : parseHeaderObject(parts[0])
  return { ...(header !== undefined ? { header } : {}), ...(error !== undefined ? { error } : {}), received: parts[0]?.byteLength ?? 0, broken }
}
