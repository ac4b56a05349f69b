// `shardfarm put` then `shardfarm get` across a fresh local grid (relay + 6 farmer processes), with
// the CLI as a real child process: the sizes where segmenting has edges (empty, one byte, exactly
// one segment of the test policy's k = 4, one byte over) and a 200 MiB file, each byte-identical after the round trip.
import { stat } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CliGrid, LIVE_SEGMENT, MiB, sha256, sha256File, writeRandomFile } from './cli-grid.ts'
import { TEST_POLICY_FILE } from '../support/test-policy.ts'
import { parseCapability } from '../../src/core/capability.ts'
import { OwnerIndex } from '../../src/client/owner-index.ts'
import { nodeKeyValueStore } from '../../src/client/session.node.ts'

const g = new CliGrid()
beforeAll(async () => { await g.start(6) })
afterAll(async () => { await g.destroy() })

describe('put then get over a fresh grid', () => {
  const cases: Array<[string, number]> = [
    ['empty', 0], ['one byte', 1], ['exactly one segment', LIVE_SEGMENT], ['one segment and one byte', LIVE_SEGMENT + 1]
  ]
  for (const [what, size] of cases) {
    it(`${what} (${size} bytes) comes back byte-identical`, async () => {
      const src = join(g.work, `in-${size}.bin`)
      const digest = await writeRandomFile(src, size)
      const put = await g.put(src, ['--policy', TEST_POLICY_FILE])
      expect(put.link).toMatch(/^shardfarm:r2:/)
      expect(put).toMatchObject({ size, policy: 't', segments: Math.max(1, Math.ceil(size / LIVE_SEGMENT)) })

      const out = join(g.work, `out-${size}.bin`)
      const got = await g.cli(['get', put.link, '-o', out])
      expect(got.code, got.stderr).toBe(0)
      expect((await stat(out)).size).toBe(size)
      expect(await sha256File(out)).toBe(digest)
    })
  }

  it('get -o - writes the file, and only the file, to stdout', async () => {
    const src = join(g.work, 'stdout.bin')
    const digest = await writeRandomFile(src, LIVE_SEGMENT + 1)
    const { link } = await g.put(src)
    const got = await g.cli(['get', link, '-o', '-'])
    expect(got.code, got.stderr).toBe(0)
    expect(got.stdout.length).toBe(LIVE_SEGMENT + 1)
    expect(sha256(got.stdout)).toBe(digest)
  })

  it('put prints the link as the only stdout line; ls lists the files put from this machine', async () => {
    const src = join(g.work, 'plain.txt')
    await writeRandomFile(src, 1000)
    const put = await g.cli(['put', src])
    expect(put.code, put.stderr).toBe(0)
    expect(put.out.split('\n')).toHaveLength(1)
    expect(put.out).toMatch(/^shardfarm:r2:\S+$/)
    const ls = JSON.parse((await g.cli(['ls', '--json'])).out) as Array<{ name: string, link: string, size: number }>
    expect(ls).toContainEqual(expect.objectContaining({ name: 'plain.txt', link: put.out, size: 1000 }))
    expect(JSON.stringify(ls)).not.toContain('ownerSeed') // owner keys stay in the local index
    // The owner key is kept on this machine, in the owner index on disk, and nowhere else.
    const manifestId = parseCapability(put.out).manifestId
    expect((await new OwnerIndex(nodeKeyValueStore(g.home)).find(manifestId))?.ownerSeed).toMatch(/^[A-Za-z0-9+/]{43}=$/)
  })

  it('a 200 MiB file comes back byte-identical', async () => {
    const size = 200 * MiB
    const src = join(g.work, 'big.bin')
    const digest = await writeRandomFile(src, size)
    const t0 = performance.now()
    const put = await g.put(src)
    const t1 = performance.now()
    expect(put.segments).toBe(Math.ceil(size / LIVE_SEGMENT))
    const out = join(g.work, 'big.out')
    const got = await g.cli(['get', put.link, '-o', out])
    const t2 = performance.now()
    expect(got.code, got.stderr).toBe(0)
    expect(await sha256File(out)).toBe(digest)
    console.log(`200 MiB: put ${((t1 - t0) / 1000).toFixed(1)} s, get ${((t2 - t1) / 1000).toFixed(1)} s`)
  }, 150_000)
})
