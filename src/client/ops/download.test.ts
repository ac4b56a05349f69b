import { randomBytes } from 'node:crypto'
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { parseCapability } from '../../core/capability.ts'
import { createNodeCodecPool } from '../../codec/pool.node.ts'
import type { CodecPool } from '../../codec/pool.ts'
import { FakeGrid, getFile, putFile, sha, source } from '../../../test/support/fake-grid.ts'
import { Download } from './download.ts'
import { nodeSegmentCipher } from '../adapters/cipher.node.ts'

const SHARD = 4096
let pool: CodecPool
beforeAll(() => { pool = createNodeCodecPool({ size: 1 }) })
afterAll(() => pool.terminate())
const makeGrid = (n: number, regions?: string[]): FakeGrid => FakeGrid.make(n, pool, regions)

describe('download', () => {
  const segPlain = 4 * SHARD - 16 // test policy: k = 4

  it('survives any m farmers lost; m + 1 holders of a segment lost gives an error naming the segment', async () => {
    const grid = makeGrid(6)
    const bytes = randomBytes(3 * segPlain)
    const up = await putFile(grid.ports(), source(bytes), { shardSize: SHARD })
    const seg1 = up.manifest.segments[1]!.holders.flat()
    grid.down.add(seg1[0]!); grid.down.add(seg1[5]!) // m = 2, one data and one parity holder
    expect(sha(await getFile(grid.ports(), up.link))).toBe(sha(bytes))
    grid.down.add(seg1[2]!)
    const link = up.link
    // The manifest holders may be down too; the error must still be about data, not a crash.
    await expect(getFile(grid.ports(), link)).rejects.toMatchObject({ name: expect.stringMatching(/SegmentUnavailableError|ManifestUnavailableError/) })
    const err = await getFile(grid.ports(), link).catch((e: Error) => e) as Error & { details?: { segment?: number } }
    if (err.name === 'SegmentUnavailableError') expect(err.message).toMatch(/Segment \d+ cannot be rebuilt: 3 of the 4/)
  })

  it('with exactly k holders left, one whose dial failed for a moment is asked again; one that sent wrong bytes is not', async () => {
    const grid = makeGrid(6)
    const bytes = randomBytes(segPlain)
    const up = await putFile(grid.ports(), source(bytes), { shardSize: SHARD })
    const holders = up.manifest.segments[0]!.holders.flat()
    // Two holders gone (m = 2), neither holding the manifest: the 4 left are all needed, and the
    // one that fails for a moment fails its fragment's GET, not the manifest's.
    const manifestHolders = parseCapability(up.link).holders
    const [gone1, gone2, flaky, corrupt] = [0, 1, 2, 3, 4, 5].sort((a, b) => Number(manifestHolders.includes(holders[a]!)) - Number(manifestHolders.includes(holders[b]!)))
    grid.down.add(holders[gone1!]!); grid.down.add(holders[gone2!]!)
    grid.flaky.set(holders[flaky!]!, 1)
    expect(sha(await getFile(grid.ports(), up.link))).toBe(sha(bytes))
    // Wrong bytes are an answer, not a moment's failure: that holder is not asked again.
    const store = grid.stores.get(holders[corrupt!]!)! as unknown as { corruptForTesting: (id: string) => void }
    store.corruptForTesting(up.manifest.segments[0]!.fragments[corrupt!]!)
    await expect(getFile(grid.ports(), up.link)).rejects.toMatchObject({ name: 'SegmentUnavailableError' })
  })

  it('corrupt stored fragments are treated as missing, never as data', async () => {
    const grid = makeGrid(6)
    const bytes = randomBytes(2 * segPlain)
    const up = await putFile(grid.ports(), source(bytes), { shardSize: SHARD })
    for (const s of up.manifest.segments) {
      const store = grid.stores.get(s.holders[0]![0]!)! as unknown as { corruptForTesting: (id: string) => void }
      store.corruptForTesting(s.fragments[0]!)
    }
    expect(sha(await getFile(grid.ports(), up.link))).toBe(sha(bytes))
  })

  it('a wrong key or a tampered manifest id gives an authentication or availability error, never wrong bytes', async () => {
    const grid = makeGrid(6)
    const up = await putFile(grid.ports(), source(randomBytes(1000)), { shardSize: SHARD })
    const cap = parseCapability(up.link)
    cap.key![0]! ^= 1
    await expect(new Download(grid.ports(), cap).run(() => {})).rejects.toMatchObject({ name: 'AuthenticationError' })
    const cap2 = parseCapability(up.link)
    cap2.manifestId = 'f'.repeat(64)
    await expect(new Download(grid.ports(), cap2).run(() => {})).rejects.toMatchObject({ name: 'FileNotFoundError', code: 'FILE_NOT_FOUND' })
  })

  it('range reads fetch only the segments they touch', async () => {
    const grid = makeGrid(6)
    const bytes = randomBytes(5 * segPlain)
    const up = await putFile(grid.ports(), source(bytes), { shardSize: SHARD })
    grid.gets = 0
    const part = await getFile(grid.ports(), up.link, { range: { start: 2 * segPlain + 10, end: 3 * segPlain + 5 } })
    expect(Buffer.compare(part, bytes.subarray(2 * segPlain + 10, 3 * segPlain + 5))).toBe(0)
    expect(grid.gets).toBe(1 + 2 * 4) // the manifest, then k fragments of each of the two segments
  })

  it('a stalled manifest holder is joined by the next one instead of being waited out', async () => {
    const grid = makeGrid(6)
    const bytes = randomBytes(1000)
    const up = await putFile(grid.ports(), source(bytes), { shardSize: SHARD })
    grid.slow.set(up.capability.holders[0]!, 10_000) // the first holder asked
    const t0 = Date.now()
    expect(sha(await getFile(grid.ports(), up.link))).toBe(sha(bytes))
    expect(Date.now() - t0).toBeLessThan(4_000)
  })

  it('hedges a segment held up by a slow farmer: one more request, not a wait', async () => {
    const grid = makeGrid(6)
    const bytes = randomBytes(3 * segPlain)
    const up = await putFile(grid.ports(), source(bytes), { shardSize: SHARD })
    // A farmer holding one fragment of every segment (6 farmers, 4 + 2), but not the manifest.
    const slow = up.manifest.segments[1]!.holders.flat().find(p => !up.capability.holders.includes(p))!
    grid.slow.set(slow, 10_000)
    grid.gets = 0
    const t0 = Date.now()
    const chunks: Uint8Array[] = []
    await new Download(grid.ports(), parseCapability(up.link), { hedgeAfterMs: 100 }).run(c => { chunks.push(c.slice()) })
    expect(Date.now() - t0).toBeLessThan(3_000)
    expect(sha(Buffer.concat(chunks))).toBe(sha(bytes))
    expect(grid.gets).toBeGreaterThan(1 + 3 * 4) // a hedged request went out…
    expect(grid.gets).toBeLessThanOrEqual(1 + 3 * 5) // …at most one per segment
  })

  it('downloads into recycled buffers with an engine that writes in place, and rebuilds without reusing', async () => {
    const grid = makeGrid(6)
    const shard = 32 * 1024 // plaintext buffers above RELEASE_MIN_BYTES
    const bytes = randomBytes(5 * (4 * shard - 16) + 70_000) // 6 segments, the last one short (and above RELEASE_MIN_BYTES too)
    const up = await putFile({ ...grid.ports(), cipher: nodeSegmentCipher }, source(bytes), { shardSize: shard })
    const fetch = async (): Promise<{ out: Buffer, buffers: Set<ArrayBufferLike>, given: Uint8Array[] }> => {
      const buffers = new Set<ArrayBufferLike>()
      const copies: Uint8Array[] = []
      const given: Uint8Array[] = []
      await new Download({ ...grid.ports(), cipher: nodeSegmentCipher }, parseCapability(up.link), { releaseChunks: true, concurrency: 1 })
        .run(c => { buffers.add(c.buffer); given.push(c); copies.push(c.slice()) })
      return { out: Buffer.concat(copies), buffers, given }
    }
    const healthy = await fetch()
    expect(sha(healthy.out)).toBe(sha(bytes))
    expect(healthy.buffers.size).toBe(2) // five full segments decrypted into one buffer, the short last one its own
    expect(healthy.given.every(c => c.length === 0)).toBe(true) // and freed when the download ends
    // A data fragment's holder down: every segment is rebuilt from parity, and still exact.
    grid.down.add(up.manifest.segments[0]!.holders[1]![0]!)
    expect(sha((await fetch()).out)).toBe(sha(bytes))
  })
})
