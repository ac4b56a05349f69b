// `shardfarm check` and the verify link against real farmer processes (relay + 7, live 4 + 2):
// the verify link checks a file exactly as the read link does and opens nothing of what the file
// is; a copy that a farmer only claims (HAS "held", no proof) does not count, so a lost fragment
// stays visible and `repair` rebuilds it.
import { readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FarmerClient } from '../../src/client/adapters/farmer-client.ts'
import { base64url, parseCapability } from '../../src/core/capability.ts'
import { importFileKey, openBytes } from '../../src/core/envelope.ts'
import { openVerifyManifest } from '../../src/core/manifest.ts'
import { CliGrid, LIVE_SEGMENT, linkHolders, sha256File, writeRandomFile } from './cli-grid.ts'

const g = new CliGrid()
beforeAll(async () => { await g.start(7) })
afterAll(async () => { await g.destroy() })

interface CheckJson { healthy: boolean, segments: Array<{ proven: number, claimed: number, missing: number, k: number, n: number }> }
interface StatJson { segments: Array<{ status: string, available: number }> }

/** The last line of a command's stdout, parsed. */
function lastJson<T> (out: string): T {
  return JSON.parse(out.trim().split('\n').at(-1)!) as T
}

describe('check and the verify link', () => {
  it('the verify link checks like the read link, and what it opens holds no name, type or plaintext', async () => {
    const src = join(g.work, 'quarterly-secret-report.txt')
    await writeRandomFile(src, 2 * LIVE_SEGMENT - 999)
    const put = await g.cli(['put', src, '--json'])
    expect(put.code, put.stderr).toBe(0)
    const { link, verifyLink } = JSON.parse(put.out) as { link: string, verifyLink: string }
    expect(verifyLink).toMatch(/^shardfarm:v2:/)
    const derived = await g.cli(['link', '--verify', link])
    expect(derived.out).toBe(verifyLink)

    const byRead = await g.cli(['check', link, '--json'])
    const byVerify = await g.cli(['check', verifyLink, '--json'])
    expect(byRead.code, byRead.stderr).toBe(0)
    expect(byVerify.code, byVerify.stderr).toBe(0)
    const verdict = lastJson<CheckJson>(byVerify.out)
    expect(verdict).toEqual(lastJson<CheckJson>(byRead.out))
    expect(verdict.healthy).toBe(true)
    expect(verdict.segments).toEqual([0, 1].map(() => ({ proven: 6, claimed: 0, missing: 0, k: 4, n: 6, status: 'healthy' })))

    // Everything the verify link's key decrypts, fetched as anyone holding the link would.
    const read = parseCapability(link)
    const verify = parseCapability(verifyLink)
    expect(verifyLink.includes(base64url(read.key!))).toBe(false)
    const holder = g.byPeer(verify.holders[0]!)
    const sealed = await new FarmerClient({ libp2p: g.node }).get(multiaddr(holder.child.addr), verify.manifestId, { signal: AbortSignal.timeout(10_000) })
    const key = await importFileKey(verify.verifyKey!)
    const opened = Buffer.from(await openBytes(key, verify.fileId, sealed))
    const plain = await readFile(src)
    expect(opened.includes('quarterly-secret-report')).toBe(false)
    expect(opened.includes('text/plain')).toBe(false)
    for (let at = 0; at + 64 <= plain.length; at += Math.floor(plain.length / 16)) expect(opened.includes(plain.subarray(at, at + 64))).toBe(false)
    const manifest = await openVerifyManifest(key, verify.fileId, sealed)
    expect(Object.keys(manifest).sort()).toEqual(['details', 'farmers', 'fileId', 'owner', 'policy', 'segments', 'shardSize', 'version'])
    expect(manifest.segments.every(s => s.roots?.length === 6)).toBe(true)
  })

  it('a lost fragment stays visible beside a farmer that claims everything, and repair rebuilds it', async () => {
    const src = join(g.work, 'degraded.bin')
    const digest = await writeRandomFile(src, LIVE_SEGMENT - 77)
    const { link } = await g.put(src)
    const manifestHolders = new Set(linkHolders(link))
    // One fragment is lost from a farmer's disk (not a manifest holder, so the manifest stays whole).
    const stat0 = lastJson<{ segments: Array<{ fragments: Array<{ id: string, holders: string[] }> }> }>((await g.cli(['stat', link, '--json'])).out)
    const victim = stat0.segments[0]!.fragments.find(f => !manifestHolders.has(f.holders[0]!))!
    await rm(g.fragmentPath(g.byPeer(victim.holders[0]!), victim.id))
    // A farmer joins that answers HAS "held" for every id and keeps nothing.
    const liar = await g.addBlackHole('eu-west')
    try {
      const check = await g.cli(['check', link, '--json'])
      expect(check.code, check.stderr).toBe(0) // 5 proven: k + 1, readable with one to spare
      const c = lastJson<CheckJson>(check.out)
      expect(c.segments[0]).toMatchObject({ proven: 5, k: 4, n: 6, status: 'degraded' })
      const stat = lastJson<StatJson>((await g.cli(['stat', link, '--json'])).out)
      expect(stat.segments[0]).toMatchObject({ status: 'degraded', available: 5 })

      const repaired = await g.cli(['repair', link, '--json'])
      expect(repaired.code, repaired.stderr).toBe(0)
      expect(lastJson<{ fragmentsStored: number, repaired: number }>(repaired.out)).toMatchObject({ fragmentsStored: 1, repaired: 1 })
      expect(await liar.puts()).toEqual([]) // it failed its audit: nothing of this file goes to it
      const after = lastJson<CheckJson>((await g.cli(['check', link, '--json'])).out)
      expect(after.segments[0]).toMatchObject({ proven: 6, status: 'healthy' })
    } finally {
      await liar.stop()
    }
    const out = join(g.work, 'degraded.out')
    const got = await g.cli(['get', link, '-o', out])
    expect(got.code, got.stderr).toBe(0)
    expect(await sha256File(out)).toBe(digest)
  })
})
