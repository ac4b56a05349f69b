// What a user sees when the grid misbehaves after a put: farmers SIGKILLed, fragment files
// corrupted on the farmers' disks, the sealed manifest changed on every holder, a link with the
// wrong key. Every case runs the real CLI against real farmer processes (relay + 6, live 4 + 2).
import { access } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { formatCapability, parseCapability } from '../../src/core/capability.ts'
import { CliGrid, corruptPayload, LIVE_SEGMENT, linkHolders, sha256File, writeRandomFile } from './cli-grid.ts'

const g = new CliGrid()
/** A three-segment file put once, read by several tests. */
let link = ''
let digest = ''
const M = 2 // live policy parity

interface StatJson {
  segments: Array<{ index: number, status: string, available: number, fragments: Array<{ id: string, holders: string[], reachable: string[] }> }>
}

beforeAll(async () => {
  await g.start(6)
  const src = join(g.work, 'three.bin')
  digest = await writeRandomFile(src, 2 * LIVE_SEGMENT + 12345)
  link = (await g.put(src)).link
})
afterEach(async () => { await g.heal() })
afterAll(async () => { await g.destroy() })

const exists = async (p: string): Promise<boolean> => await access(p).then(() => true, () => false)
/** Asserts a failed get left nothing that could pass for the file. */
async function expectNoOutput (out: string): Promise<void> {
  expect(await exists(out)).toBe(false)
  expect(await exists(`${out}.shardfarm-partial`)).toBe(false)
}

describe('after the put', () => {
  it('stat reports every segment healthy, then degraded once m farmers are SIGKILLed; get still returns the file', async () => {
    const healthy = JSON.parse((await g.cli(['stat', link, '--json'])).out) as StatJson
    expect(healthy.segments.map(s => s.status)).toEqual(['healthy', 'healthy', 'healthy'])

    // The worst m to lose: two of the three farmers that also hold the manifest.
    const [a, b] = linkHolders(link)
    await Promise.all([g.kill(g.byPeer(a!)), g.kill(g.byPeer(b!))])

    const stat = await g.cli(['stat', link])
    expect(stat.code, stat.stderr).toBe(0)
    expect(stat.out.match(/degraded/g)).toHaveLength(3)
    const json = JSON.parse((await g.cli(['stat', link, '--json'])).out) as StatJson
    for (const s of json.segments) expect(s).toMatchObject({ status: 'degraded', available: 4 })

    const out = join(g.work, 'after-kill-m.bin')
    const got = await g.cli(['get', link, '-o', out])
    expect(got.code, got.stderr).toBe(0)
    expect(await sha256File(out)).toBe(digest)
  })

  it(`m + 1 holders of a segment SIGKILLed: exit 3 and an error that names the segment`, async () => {
    // Kill three farmers, the one without a copy of the manifest first: the manifest (5 copies)
    // still opens and the failure is about the data. With 6 farmers and 4 + 2 every farmer holds a
    // fragment of every segment.
    const manifestHolders = new Set(linkHolders(link))
    const victims = [...g.farmers.filter(f => !manifestHolders.has(f.peerId)), ...g.farmers.filter(f => manifestHolders.has(f.peerId))].slice(0, M + 1)
    expect(victims).toHaveLength(M + 1)
    expect(victims.filter(f => manifestHolders.has(f.peerId)).length).toBeLessThan(manifestHolders.size)
    await Promise.all(victims.map(async f => { await g.kill(f) }))

    const out = join(g.work, 'after-kill-m1.bin')
    const got = await g.cli(['get', link, '-o', out])
    expect(got.code).toBe(3)
    expect(got.stderr).toMatch(/Segment 0 cannot be rebuilt: 3 of the 4 fragments it needs are reachable/)
    await expectNoOutput(out)

    const toStdout = await g.cli(['get', link, '-o', '-'])
    expect(toStdout.code).toBe(3)
    expect(toStdout.stdout.length).toBe(0)

    const stat = await g.cli(['stat', link, '--json'])
    expect(stat.code).toBe(3)
    expect((JSON.parse(stat.out) as StatJson).segments.map(s => s.status)).toEqual(['lost', 'lost', 'lost'])
  })

  it('corrupt bytes in stored fragment files (m per segment, and a manifest copy) are erasures: get is still correct', async () => {
    const src = join(g.work, 'to-corrupt.bin')
    const want = await writeRandomFile(src, 2 * LIVE_SEGMENT + 999)
    const { link: l } = await g.put(src)
    const stat = JSON.parse((await g.cli(['stat', l, '--json'])).out) as StatJson
    // Data fragments 0 and 1 of every segment: the download must fall back to parity and decode.
    for (const seg of stat.segments) {
      for (const frag of seg.fragments.slice(0, M)) {
        for (const h of frag.holders) await corruptPayload(g.fragmentPath(g.byPeer(h), frag.id), 1000)
      }
    }
    const cap = parseCapability(l)
    await corruptPayload(g.fragmentPath(g.byPeer(cap.holders[0]!), cap.manifestId), 10)

    const out = join(g.work, 'corrupted.out')
    const got = await g.cli(['get', l, '-o', out])
    expect(got.code, got.stderr).toBe(0)
    expect(await sha256File(out)).toBe(want)
  })

  it('a link with the wrong key: exit 4, an authentication message, and no output file', async () => {
    const cap = parseCapability(link)
    cap.key![0] = cap.key![0]! ^ 1
    const out = join(g.work, 'wrong-key.bin')
    const got = await g.cli(['get', formatCapability(cap), '-o', out])
    expect(got.code).toBe(4)
    expect(got.stderr).toMatch(/Could not authenticate the manifest: the key is wrong or the data was changed/)
    await expectNoOutput(out)
  })

  it('the sealed manifest changed on every holder: exit 4, an authentication message, and no output file', async () => {
    const src = join(g.work, 'tamper.bin')
    await writeRandomFile(src, 5000)
    const { link: l } = await g.put(src)
    const cap = parseCapability(l)
    for (const h of cap.holders) await corruptPayload(g.fragmentPath(g.byPeer(h), cap.manifestId), 100)

    const out = join(g.work, 'tampered.bin')
    const got = await g.cli(['get', l, '-o', out])
    expect(got.code).toBe(4)
    expect(got.stderr).toMatch(/Could not authenticate the manifest/)
    await expectNoOutput(out)
  })
})
