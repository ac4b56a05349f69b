// Fragments against real farmer processes over loopback, through FarmerClient: round trips, the
// refusals a user meets (wrong hash, full quota, deletes without the owner's key), metrics, and
// durability across a clean restart and a SIGKILL in the middle of PUTs.
import { createHash, randomBytes } from 'node:crypto'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Libp2p } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { FarmerClient } from '../../src/client/adapters/farmer-client.ts'
import { generateOwnerKey } from '../../src/core/owner-key.ts'
import type { OwnerKey } from '../../src/core/owner-key.ts'
import type { RequestHeader } from '../../src/net/protocols/frames.ts'
import { CLAIMS_SUFFIX } from '../../src/stores/fs-format.ts'
import { exchange } from '../support/test-grid.ts'
import { createNodeLibp2p } from '../../src/net/libp2p.node.ts'
import { HEADER_SIZE } from '../../src/stores/fs-format.ts'
import { Grid, httpText, httpUrlOf, peerOf } from './helpers.ts'
import type { TestChild } from './helpers.ts'

const KiB = 1024
const MiB = 1024 * KiB
const grid = new Grid()
let client: Libp2p
let farmers: FarmerClient
let relay: TestChild
let f0: TestChild, f1: TestChild, f2: TestChild
let owner: OwnerKey
/** For farmers where one owner and this one client fill most of the quota on purpose. */
const UNLIMITED = ['--max-bytes-per-owner', '1TiB', '--max-bytes-per-peer', '1TiB']

const fragment = (size: number): { id: string, bytes: Uint8Array } => {
  const bytes = new Uint8Array(randomBytes(size))
  return { id: createHash('sha256').update(bytes).digest('hex'), bytes }
}
const ma = (c: TestChild): ReturnType<typeof multiaddr> => multiaddr(c.addr)

beforeAll(async () => {
  await grid.init()
  relay = await grid.relay(5_000)
  ;[f0, f1, f2] = await Promise.all([
    grid.farmer('farmer-0', relay.addr, ['--quota', '64MiB', '--http', '127.0.0.1:0']),
    grid.farmer('farmer-1', relay.addr, ['--quota', '256MiB', '--region', 'us-east', ...UNLIMITED]),
    grid.farmer('farmer-2', relay.addr, ['--quota', '1MiB', '--tier', 'archive', ...UNLIMITED])
  ]) as [TestChild, TestChild, TestChild]
  owner = await generateOwnerKey()
  client = await createNodeLibp2p()
  farmers = new FarmerClient({ libp2p: client }, { timeoutMs: 20_000 })
})

afterAll(async () => {
  await client?.stop()
  await grid.destroy()
})

describe('fragments on farmer processes', () => {
  it('put, get, has, stat and delete round trip on every farmer', async () => {
    for (const f of [f0, f1, f2]) {
      const a = fragment(300 * KiB)
      const absent = fragment(10)
      expect(await farmers.put(ma(f), a.id, a.bytes, { owner })).toEqual({ stored: true })
      expect(await farmers.put(ma(f), a.id, a.bytes, { owner })).toEqual({ stored: false })
      expect(Buffer.from(await farmers.get(ma(f), a.id)).equals(a.bytes)).toBe(true)
      expect(await farmers.has(ma(f), [a.id, absent.id])).toEqual([true, false])
      const stat = await farmers.stat(ma(f))
      expect(stat).toMatchObject({ count: 1, used: 300 * KiB })
      await farmers.delete(ma(f), a.id, owner)
      expect(await farmers.has(ma(f), [a.id])).toEqual([false])
      await expect(farmers.get(ma(f), a.id)).rejects.toMatchObject({ code: 'NOT_FOUND' })
    }
  })

  it('refuses a fragment whose bytes do not hash to its id, and stores nothing', async () => {
    const a = fragment(64 * KiB)
    const b = fragment(64 * KiB)
    await expect(farmers.put(ma(f0), a.id, b.bytes, { owner })).rejects.toMatchObject({ name: 'HashMismatchError', code: 'HASH_MISMATCH' })
    expect(await farmers.has(ma(f0), [a.id, b.id])).toEqual([false, false])
  })

  it('answers QUOTA_EXCEEDED when the farmer is full, and still serves what it holds', async () => {
    const a = fragment(600 * KiB)
    const b = fragment(600 * KiB)
    await farmers.put(ma(f2), a.id, a.bytes, { owner })
    await expect(farmers.put(ma(f2), b.id, b.bytes, { owner })).rejects.toMatchObject({ name: 'QuotaExceededError', code: 'QUOTA_EXCEEDED' })
    expect(await farmers.has(ma(f2), [a.id, b.id])).toEqual([true, false])
    expect(Buffer.from(await farmers.get(ma(f2), a.id)).equals(a.bytes)).toBe(true)
  })

  it('keeps the owner\'s copy through another key\'s delete and a forged one, and refuses a PUT without an owner', async () => {
    const stranger = await generateOwnerKey()
    const owned = fragment(32 * KiB)
    const unowned = fragment(32 * KiB)
    await farmers.put(ma(f0), owned.id, owned.bytes, { owner })
    await farmers.delete(ma(f0), owned.id, stranger) // removes the stranger's claim, which it has not
    // The right public key with a signature made by another private key is a forgery.
    await expect(farmers.delete(ma(f0), owned.id, { publicKey: owner.publicKey, privateKey: stranger.privateKey })).rejects.toMatchObject({ code: 'FORBIDDEN' })
    const ownerless = { op: 'PUT', id: unowned.id, size: unowned.bytes.byteLength } as unknown as RequestHeader
    await expect(exchange(client, ma(f0), { op: 'PUT', req: ownerless, body: unowned.bytes }, { signal: AbortSignal.timeout(10_000), maxFragmentBytes: MiB }))
      .rejects.toMatchObject({ code: 'FORBIDDEN' })
    expect(await farmers.has(ma(f0), [owned.id, unowned.id])).toEqual([true, false])
  })

  it('/metrics counts requests, bytes and refusals by code', async () => {
    const m = (await httpText(`${await httpUrlOf(f0)}/metrics`)).body
    const value = (re: RegExp): number => Number(re.exec(m)?.[1] ?? NaN)
    expect(value(/^shardfarm_farmer_requests_succeeded_total\{op="PUT"\} (\d+)$/m)).toBeGreaterThanOrEqual(3)
    expect(value(/^shardfarm_farmer_put_bytes_total (\d+)$/m)).toBeGreaterThanOrEqual(300 * KiB + 32 * KiB)
    expect(value(/^shardfarm_farmer_get_bytes_total (\d+)$/m)).toBeGreaterThanOrEqual(300 * KiB)
    expect(value(/^shardfarm_farmer_errors_total\{code="HASH_MISMATCH"\} (\d+)$/m)).toBe(1)
    expect(value(/^shardfarm_farmer_errors_total\{code="FORBIDDEN"\} (\d+)$/m)).toBe(2)
    expect(value(/^shardfarm_farmer_fragments (\d+)$/m)).toBe(1)
    expect(value(/^shardfarm_fragment_bytes\{claims="active"\} (\d+)$/m)).toBe(32 * KiB)
    expect(value(/^shardfarm_claims_expired_total (\d+)$/m)).toBe(0)
  })

  it('a restarted farmer keeps its peer id and its fragments', async () => {
    const a = fragment(512 * KiB)
    await farmers.put(ma(f0), a.id, a.bytes, { owner })
    const before = await farmers.stat(ma(f0))
    expect(await grid.stop(f0)).toBe(0)
    const again = await grid.farmer('farmer-0', relay.addr, ['--quota', '64MiB'])
    expect(peerOf(again.addr)).toBe(peerOf(f0.addr))
    expect(Buffer.from(await farmers.get(ma(again), a.id)).equals(a.bytes)).toBe(true)
    expect(await farmers.stat(ma(again))).toMatchObject({ count: before.count, used: before.used })
  })

  it('SIGKILL in the middle of PUTs leaves no corrupt fragment on disk', async () => {
    // More PUTs than the client runs at once (8 per farmer): when the first one finishes, seven
    // are mid-transfer or mid-write, however fast the machine moves bytes.
    const frags = Array.from({ length: 12 }, () => fragment(8 * MiB))
    const puts = frags.map(async f => await farmers.put(ma(f1), f.id, f.bytes, { owner }).then(() => true, () => false))
    await Promise.race(puts) // the first finished PUT: the others are mid-transfer or mid-write
    f1.child.kill('SIGKILL')
    await f1.exited
    const stored = await Promise.all(puts)
    expect(stored).toContain(false) // the kill did land mid-PUT

    // Read the disk directly, as the restarted store will: every file under a valid id must hash to it.
    const root = join(grid.root, 'farmer-1', 'fragments')
    const onDisk: string[] = []
    for (const sub of await readdir(root)) {
      for (const name of await readdir(join(root, sub))) {
        if (name.endsWith(CLAIMS_SUFFIX)) continue
        const file = await readFile(join(root, sub, name))
        expect(createHash('sha256').update(file.subarray(HEADER_SIZE)).digest('hex')).toBe(name)
        onDisk.push(name)
      }
    }
    frags.forEach((f, i) => { if (stored[i] === true) expect(onDisk).toContain(f.id) })
    expect(onDisk.length).toBeGreaterThanOrEqual(1)

    const again = await grid.farmer('farmer-1', relay.addr, ['--quota', '256MiB', ...UNLIMITED])
    const held = await farmers.has(ma(again), frags.map(f => f.id))
    expect(held.filter(Boolean).length).toBe(onDisk.length)
    for (const [i, f] of frags.entries()) {
      if (held[i] === true) expect(Buffer.from(await farmers.get(ma(again), f.id)).equals(f.bytes)).toBe(true)
    }
    expect((await farmers.stat(ma(again))).used).toBe(onDisk.length * 8 * MiB)
  })
})
