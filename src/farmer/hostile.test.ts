// A farmer under one hostile peer (or four), over real libp2p on loopback and a disk store: PUTs
// that declare 16 MiB and trickle a byte at a time, and GETs whose reader never reads. Neither may
// shut honest peers out, hold the farmer's memory, or last past the minimum-rate window.
import { fork } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Libp2p, Stream } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import type { Multiaddr } from '@multiformats/multiaddr'
import { afterEach, describe, expect, it } from 'vitest'
import { toHex } from '../core/hash.ts'
import { newNonce } from '../core/owner-key.ts'
import { createNodeLibp2p } from '../net/libp2p.node.ts'
import { FRAGMENT_PROTOCOL, MAX_HEADER_BYTES } from '../net/protocols/fragment-constants.ts'
import { encodeFrame, parseHeaderObject } from '../net/protocols/frames.ts'
import { FrameReader, streamSource } from '../net/protocols/stream-io.ts'
import { FsFragmentStore } from '../stores/fs.ts'
import { randomFragment, sameBytes, startTestClient, startTestFarmer } from '../../test/support/test-grid.ts'
import type { FarmerMetricsSnapshot } from './metrics.ts'

const MiB = 1024 * 1024
/** Owner keys of the attacker's PUTs and of the honest peer's. */
const ATTACKER = Buffer.alloc(32, 1).toString('base64')
const HONEST = Buffer.alloc(32, 2).toString('base64')
const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

/** What ends the test: nodes to stop, directories to remove, children to kill. */
const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {})
})

async function tempDir (): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'shardfarm-hostile-'))
  cleanups.push(async () => { await rm(dir, { recursive: true, force: true }) })
  return dir
}

async function node (): Promise<Libp2p> {
  const n = await createNodeLibp2p()
  cleanups.push(async () => { await n.stop() })
  return n
}

/** A raw fragment-protocol stream and a promise of the farmer's answer header (undefined if none came). */
interface Raw { stream: Stream, answer: Promise<Record<string, unknown> | undefined> }

async function openRaw (from: Libp2p, to: Multiaddr, header: object, opts: { pause?: boolean, answerWithinMs?: number } = {}): Promise<Raw> {
  const stream = await from.dialProtocol(to, FRAGMENT_PROTOCOL)
  // A paused reader sends no window updates: the farmer can push one window, then must wait.
  if (opts.pause === true) stream.pause()
  const reader = new FrameReader(streamSource(stream))
  stream.send(encodeFrame(header))
  const answer = opts.pause === true
    ? Promise.resolve(undefined)
    : reader.readHeader(MAX_HEADER_BYTES, AbortSignal.timeout(opts.answerWithinMs ?? 20_000))
      .then(parseHeaderObject, () => undefined)
  return { stream, answer }
}

const randomId = (): string => toHex(crypto.getRandomValues(new Uint8Array(32)))

async function waitUntil (cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) return false
    await sleep(100)
  }
  return true
}

describe('FarmerService against a hostile peer', () => {
  it('16 trickling PUTs from one peer: another peer still stores at once, and the trickles are cut after the rate window', async () => {
    const dir = await tempDir()
    const store = await FsFragmentStore.open(dir, { quota: 1024 * MiB })
    cleanups.push(async () => { await store.close() })
    const rateWindowMs = 3_000
    const farmer = await startTestFarmer(store, { rateWindowMs })
    cleanups.push(async () => { await farmer.stop() })

    // Peer A declares 16 full-size fragments (256 MiB, the whole default in-flight budget before
    // this fix) and sends one byte of each every 2 s.
    const attacker = await node()
    await attacker.dial(farmer.addr)
    const trickles: Raw[] = []
    for (let i = 0; i < 16; i++) {
      const raw = await openRaw(attacker, farmer.addr, { op: 'PUT', id: randomId(), size: 16 * MiB, owner: ATTACKER, nonce: newNonce() })
      raw.stream.send(new Uint8Array([i]))
      trickles.push(raw)
    }
    const trickle = setInterval(() => {
      for (const { stream } of trickles) {
        if (stream.writeStatus === 'writable') stream.send(new Uint8Array([7]))
      }
    }, 2_000)
    cleanups.push(async () => { clearInterval(trickle) })
    await sleep(500)

    // Peer B stores a fragment promptly while A's PUTs are still open.
    const honest = await startTestClient({ timeoutMs: 5_000 })
    cleanups.push(async () => { await honest.node.stop() })
    const f = await randomFragment(MiB)
    const t0 = Date.now()
    expect(await honest.client.put(farmer.addr, f.id, f.bytes, { owner: { publicKey: HONEST } })).toEqual({ stored: true })
    const putMs = Date.now() - t0
    expect(putMs).toBeLessThan(3_000)
    expect(sameBytes(await honest.client.get(farmer.addr, f.id), f.bytes)).toBe(true)

    // A's PUTs: those past A's own budget (128 MiB) are refused BUSY at once; the others are
    // answered TIMEOUT (too-slow) after the window, and every one of the streams is reset.
    const answers = await Promise.all(trickles.map(async t => await t.answer))
    const busy = answers.filter(a => a?.code === 'BUSY')
    const slow = answers.filter(a => a?.code === 'TIMEOUT')
    expect(busy).toHaveLength(8)
    expect(busy[0]).toMatchObject({ ok: false, details: { scope: 'peer', limit: 128 * MiB } })
    expect(slow).toHaveLength(8)
    expect(slow[0]).toMatchObject({ ok: false, details: { reason: 'too-slow', windowMs: rateWindowMs } })
    expect(await waitUntil(() => trickles.every(t => t.stream.status !== 'open'), 5_000)).toBe(true)
    const m = farmer.service.metrics.snapshot()
    expect(m.cut).toEqual({ 'too-slow': 8 })
    expect(m).toMatchObject({ putBytesReserved: 0, putBytesInFlight: 0 })
    expect(m.errors).toMatchObject({ BUSY: 8, TIMEOUT: 8 })
  }, 40_000)

  it('4 peers × 32 paused GETs of 4–16 MiB: the farmer process grows < 300 MiB and another peer still reads', async () => {
    const dir = await tempDir()
    const sizes = [4, 6, 8, 10, 12, 14, 16, 16]
    const rateWindowMs = 6_000
    const child: ChildProcess = fork(join(import.meta.dirname, '..', '..', 'test', 'support', 'farmer-process.ts'),
      [dir, sizes.join(','), JSON.stringify({ rateWindowMs })],
      { execArgv: ['--expose-gc', '--no-warnings'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    cleanups.push(async () => { child.kill('SIGKILL') })
    const next = async <T>(): Promise<T> => await new Promise<T>((resolve, reject) => {
      child.once('message', m => { resolve(m as T) })
      child.once('exit', code => { reject(new Error(`farmer process exited with ${String(code)}`)) })
    })
    const { addr: addrText, ids } = await next<{ addr: string, ids: string[] }>()
    const addr = multiaddr(addrText)
    child.send('mark')
    await next()

    const attackers = await Promise.all([0, 1, 2, 3].map(async () => await node()))
    const paused: Raw[] = []
    await Promise.all(attackers.map(async (a, k) => {
      await a.dial(addr)
      for (let i = 0; i < 32; i++) {
        const raw = await openRaw(a, addr, { op: 'GET', id: ids[(i + k) % ids.length] }, { pause: true })
        await raw.stream.close()
        paused.push(raw)
      }
    }))
    expect(paused).toHaveLength(128)
    await sleep(1_500) // let the farmer fill whatever it will fill

    child.send('report')
    const during = await next<{ baseline: number, peak: number, metrics: FarmerMetricsSnapshot }>()
    const grownMiB = (during.peak - during.baseline) / MiB
    console.log(`paused GETs: farmer RSS ${(during.baseline / MiB).toFixed(0)} → peak ${(during.peak / MiB).toFixed(0)} MiB (+${grownMiB.toFixed(0)} MiB)`)
    expect(grownMiB).toBeLessThan(300)

    // Another peer reads a 16 MiB fragment while all of that is held open.
    const honest = await startTestClient({ timeoutMs: 10_000 })
    cleanups.push(async () => { await honest.node.stop() })
    const got = await honest.client.get(addr, ids[7]!)
    expect(got.byteLength).toBe(16 * MiB)
    // Eight per peer are served (and stall); the rest are refused BUSY.
    expect(during.metrics.errors.BUSY).toBe(4 * 24)

    // The stalled readers are cut after the rate window, and their budget comes back.
    await sleep(2 * rateWindowMs + 1_000)
    child.send('report')
    const after = await next<{ metrics: FarmerMetricsSnapshot }>()
    expect(after.metrics.cut['too-slow']).toBe(32)
    expect(after.metrics).toMatchObject({ getsInFlight: 0, activeStreams: 0 })
  }, 90_000)
})
