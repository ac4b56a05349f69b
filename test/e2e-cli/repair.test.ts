// `shardfarm repair` against real farmer processes (relay + 8, live 4 + 2): two farmers leave for
// good, repair rebuilds their fragments and manifest copies onto the others, and the link from
// before the repair still reads the file after two more farmers go, its manifest holders among them.
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CliGrid, LIVE_SEGMENT, linkHolders, sha256File, writeRandomFile } from './cli-grid.ts'

const g = new CliGrid()
beforeAll(async () => { await g.start(8) })
afterAll(async () => { await g.destroy() })

interface StatJson { segments: Array<{ status: string, fragments: Array<{ reachable: string[] }> }> }

describe('repair', () => {
  it('refuses a link put from another machine: the new copies could not carry its owner key', async () => {
    const src = join(g.work, 'theirs.bin')
    await writeRandomFile(src, 1000)
    const put = await g.cli(['put', src, '--json'], { env: { SHARDFARM_HOME: join(g.work, 'another-machine') } })
    expect(put.code, put.stderr).toBe(0)
    const r = await g.cli(['repair', (JSON.parse(put.out) as { link: string }).link])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/no owner key/)
  })

  it('puts back what two departed farmers held, so the old link survives two more departures', async () => {
    const src = join(g.work, 'kept.bin')
    const digest = await writeRandomFile(src, 3 * LIVE_SEGMENT - 4321)
    const { link } = await g.put(src)
    const [first, second, third] = linkHolders(link).map(p => g.byPeer(p))
    // Two of the farmers holding the manifest leave the grid (SIGKILL; the relay drops them).
    await g.kill(first!)
    await g.kill(second!)
    await g.waitListed(6)
    const before = JSON.parse((await g.cli(['stat', link, '--json'])).out) as StatJson
    expect(before.segments.some(s => s.status === 'degraded')).toBe(true)

    const repaired = await g.cli(['repair', link, '--json'])
    expect(repaired.code, repaired.stderr).toBe(0)
    const r = JSON.parse(repaired.out) as { segments: number, repaired: number, fragmentsStored: number, manifestCopiesStored: number, lost: number[], short: number[] }
    expect(r).toMatchObject({ segments: 3, lost: [], short: [], manifestCopiesStored: 2 })
    expect(r.fragmentsStored).toBeGreaterThanOrEqual(r.repaired)
    // This machine keeps where the new copies went, so that rm reaches them even while they are offline.
    const listed = JSON.parse((await g.cli(['ls', '--json'])).out) as Array<{ link: string, copies?: unknown[] }>
    expect(listed.find(e => e.link === link)?.copies).toHaveLength(r.fragmentsStored + r.manifestCopiesStored)
    const after = JSON.parse((await g.cli(['stat', link, '--json'])).out) as StatJson
    expect(after.segments.map(s => s.status)).toEqual(['healthy', 'healthy', 'healthy'])

    // Two more go, the link's last manifest holder among them. Each farmer holds at most one
    // fragment of a segment, so every segment keeps k = 4.
    await g.kill(third!)
    await g.kill(g.farmers.find(f => g.alive(f) && f !== third)!)
    const out = join(g.work, 'kept.out')
    const got = await g.cli(['get', link, '-o', out])
    expect(got.code, got.stderr).toBe(0)
    expect(await sha256File(out)).toBe(digest)
  })
})
