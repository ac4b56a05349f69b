// Storage policies and the file's lifecycle through the CLI on relay + 6 farmers spread over three
// regions (eu-west, eu-central, us-east, two each): a policy the grid cannot meet is refused with
// its reason, a region policy keeps every copy in its regions, `rm` deletes what `put` stored and
// `ls` follows.
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CliGrid, LIVE_SEGMENT, linkHolders, writeRandomFile } from './cli-grid.ts'
import { TEST_POLICY_FILE } from '../support/test-policy.ts'

const g = new CliGrid()
beforeAll(async () => { await g.start(6) })
afterAll(async () => { await g.destroy() })

interface StatJson { policy: { name: string }, segments: Array<{ status: string, fragments: Array<{ holders: string[] }> }> }

describe('policies', () => {
  it('a policy wider than the grid (10 + 4 over 3 regions on 6 farmers) is refused with the reason, exit 5; the same file then goes up under another', async () => {
    const wide = join(g.work, 'wide.json')
    await writeFile(wide, JSON.stringify({ name: 'wide', k: 10, m: 4, minRegions: 3 }))
    const src = join(g.work, 'archive.bin')
    await writeRandomFile(src, 10_000)
    const r = await g.cli(['put', src, '--policy', wide])
    expect(r.code).toBe(5)
    expect(r.stderr).toMatch(/Cannot place the file: policy "wide" needs 14 farmers \(10 \+ 4\), the grid has 6 eligible/)
    expect(r.out).toBe('')

    // The refused attempt must not pin the file to the wide policy through its journal.
    const small = await g.put(src, ['--policy', TEST_POLICY_FILE])
    expect(small.policy).toBe('t')
  })

  it('a policy naming a region no farmer is in is refused with the reason, exit 5', async () => {
    const policy = join(g.work, 'ap.json')
    await writeFile(policy, JSON.stringify({ name: 'ap-only', k: 2, m: 2, regions: ['ap-south'] }))
    const src = join(g.work, 'ap.bin')
    await writeRandomFile(src, 100)
    const r = await g.cli(['put', src, '--policy', policy])
    expect(r.code).toBe(5)
    expect(r.stderr).toMatch(/policy "ap-only" needs 4 farmers \(2 \+ 2\), the grid has 0 eligible .*in ap-south/)
  })

  it('allowed regions: every fragment holder and every manifest holder is in them', async () => {
    const policy = join(g.work, 'eu-us.json')
    await writeFile(policy, JSON.stringify({ name: 'eu-us', k: 2, m: 2, regions: ['eu-west', 'us-east'], minRegions: 2 }))
    const src = join(g.work, 'regions.bin')
    await writeRandomFile(src, 3 * LIVE_SEGMENT)
    const put = await g.put(src, ['--policy', policy])
    expect(put.policy).toBe('eu-us')

    const stat = JSON.parse((await g.cli(['stat', put.link, '--json'])).out) as StatJson
    expect(stat.policy.name).toBe('eu-us')
    const holders = stat.segments.flatMap(s => s.fragments.flatMap(f => f.holders))
    expect(holders.length).toBeGreaterThanOrEqual(stat.segments.length * 4)
    for (const s of stat.segments) expect(s.status).toBe('healthy')
    const regions = (peers: string[]): string[] => [...new Set(peers.map(p => g.byPeer(p).region))].sort()
    expect(regions(holders)).toEqual(['eu-west', 'us-east'])
    // The sealed manifest is the file's data too (encrypted, but it names sizes and holders).
    expect(regions(linkHolders(put.link)).every(r => r === 'eu-west' || r === 'us-east')).toBe(true)
  })
})

describe('rm and ls', () => {
  it('rm deletes the fragments from the farmers and ls stops listing the file', async () => {
    const src = join(g.work, 'to-remove.bin')
    await writeRandomFile(src, 2 * LIVE_SEGMENT + 1)
    const before = await g.storedCount()
    const put = await g.put(src, ['--policy', TEST_POLICY_FILE]) // 4 + 2: six fragments a segment
    const stored = await g.storedCount()
    const copies = linkHolders(put.link).length
    expect(stored - before).toBe(put.segments * 6 + copies)

    const listed = JSON.parse((await g.cli(['ls', '--json'])).out) as Array<{ link: string, name: string }>
    expect(listed).toContainEqual(expect.objectContaining({ link: put.link, name: 'to-remove.bin' }))
    expect((await g.cli(['ls'])).out).toContain(put.link)

    const rm = await g.cli(['rm', put.link])
    expect(rm.code, rm.stderr).toBe(0)
    expect(rm.stderr).toContain(`removed ${put.segments * 6 + copies} fragments`)
    expect(await g.storedCount()).toBe(before)
    const after = JSON.parse((await g.cli(['ls', '--json'])).out) as Array<{ link: string }>
    expect(after.map(e => e.link)).not.toContain(put.link)

    const get = await g.cli(['get', put.link, '-o', join(g.work, 'removed.out')])
    expect(get.code).toBe(3) // nothing left to fetch
  })
})
