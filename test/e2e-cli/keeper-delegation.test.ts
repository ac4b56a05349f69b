// A keeper given a verify link and its owner's delegation (real relay, 9 farmer processes, 4 + 2):
// its repairs claim under the owner's key, so the owner's `rm` removes the repaired copies too,
// while a file kept from a link alone keeps the keeper's copies after `rm`. Forged, expired and
// foreign delegations are refused by the keeper's HTTP API and by the farmers themselves.
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { spawnShardfarm, stopChild } from '../../src/cli/spawn.ts'
import { FarmerClient } from '../../src/client/adapters/farmer-client.ts'
import { OwnerIndex } from '../../src/client/owner-index.ts'
import { nodeKeyValueStore } from '../../src/client/session.node.ts'
import { delegatedKey, signDelegation } from '../../src/core/delegation.ts'
import { sha256Hex } from '../../src/core/hash.ts'
import { fromBase64, generateOwnerKey, ownerKeyFromSeed, type OwnerKey } from '../../src/core/owner-key.ts'
import type { TestChild } from '../grid/helpers.ts'
import { TEST_POLICY_FILE } from '../support/test-policy.ts'
import { CliGrid, writeRandomFile, type Farmer } from './cli-grid.ts'

const g = new CliGrid()
beforeAll(async () => { await g.start(9) }, 120_000)
afterAll(async () => { await g.destroy() })

const DAY = 24 * 3600_000

interface KeeperChild { child: TestChild, url: string }

async function startKeeper (name: string, home: string, data: string): Promise<KeeperChild> {
  const logs: string[] = []
  const c = await spawnShardfarm(['keeper', '--http', '127.0.0.1:0', '--interval', '1', '--grace', '2', '--audits-per-hour', '1000000', '--data', data], {
    name, stderr: 'pipe', onStderr: line => { logs.push(line); if (logs.length > 400) logs.shift() },
    env: { SHARDFARM_HOME: home, SHARDFARM_CONFIG: g.config, SHARDFARM_RELAY: '', SHARDFARM_FROM_SOURCE: '1' }
  })
  const child = Object.assign(c, { logs, name })
  g.grid.children.push(child) // killed by PID in destroy() whatever happens
  return { child, url: c.addr }
}

interface FileEntry { manifestId: string, key: string, lastAuditAt?: number, lastRepair?: { fragmentsStored: number }, segments: Array<{ proven: number, threshold: number, k: number }> }

async function keptFiles (k: KeeperChild): Promise<FileEntry[]> {
  const res = await fetch(`${k.url}/files`)
  expect(res.headers.get('access-control-allow-origin')).toBe('*')
  return ((await res.json()) as { files: FileEntry[] }).files
}

/** Polls `GET /files` until `done` holds for every file in `ids`. */
async function waitFiles (k: KeeperChild, what: string, ids: string[], done: (f: FileEntry) => boolean, timeoutMs = 60_000): Promise<FileEntry[]> {
  const until = Date.now() + timeoutMs
  let files: FileEntry[] = []
  while (Date.now() < until) {
    files = await keptFiles(k)
    if (ids.every(id => files.some(f => f.manifestId === id && done(f)))) return files
    await new Promise(resolve => setTimeout(resolve, 250))
  }
  throw new Error(`keeper: ${what} did not happen within ${timeoutMs} ms\n${JSON.stringify(files)}\n${k.child.logs.slice(-30).join('\n')}`)
}

/** A file put from `home` with the test policy, with its fragment ids. */
async function putFrom (home: string, name: string): Promise<{ link: string, verifyLink: string, manifestId: string, ids: string[], holders: string[] }> {
  const path = join(g.work, name)
  await writeRandomFile(path, 200_000)
  const put = await g.cli(['put', path, '--policy', TEST_POLICY_FILE, '--json'], { env: { SHARDFARM_HOME: home } })
  expect(put.code, put.stderr).toBe(0)
  const { link, verifyLink } = JSON.parse(put.out) as { link: string, verifyLink: string }
  const stat = JSON.parse((await g.cli(['stat', link, '--json'], { env: { SHARDFARM_HOME: home } })).out) as
    { manifestId?: string, segments: Array<{ fragments: Array<{ id: string, reachable: string[] }> }> }
  const owned = (await new OwnerIndex(nodeKeyValueStore(home)).list()).find(f => f.link === link)!
  return {
    link, verifyLink, manifestId: owned.manifestId,
    ids: stat.segments.flatMap(s => s.fragments.map(f => f.id)),
    holders: stat.segments[0]!.fragments.map(f => f.reachable[0]!)
  }
}

/** How many of `ids` the live farmers hold on disk. */
async function held (ids: readonly string[]): Promise<number> {
  const want = new Set(ids)
  let n = 0
  for (const f of g.farmers.filter(f => g.alive(f))) {
    for (const p of await g.fragmentFiles(f)) if (want.has(p.slice(p.lastIndexOf('/') + 1))) n++
  }
  return n
}

async function ownerKeyOf (home: string, manifestId: string): Promise<OwnerKey> {
  const owned = (await new OwnerIndex(nodeKeyValueStore(home)).list()).find(f => f.manifestId === manifestId)!
  return await ownerKeyFromSeed(fromBase64(owned.ownerSeed))
}

const addrOf = (f: Farmer): ReturnType<typeof multiaddr> => multiaddr(`/ip4/127.0.0.1/tcp/${f.port}/ws/p2p/${f.peerId}`)

const ownerHome = (): string => join(g.work, 'owner-machine')
const keeperHome = (): string => join(g.work, 'keeper-machine')
let k: KeeperChild
let delegatedFile: Awaited<ReturnType<typeof putFrom>>

describe('keeper delegation', () => {
  it('repairs from a verify link under the owner\'s delegation, so the owner\'s rm removes the repaired copies; without one they stay', async () => {
    await mkdir(ownerHome(), { recursive: true })
    await mkdir(keeperHome(), { recursive: true })
    delegatedFile = await putFrom(ownerHome(), 'delegated.bin')
    const plain = await putFrom(ownerHome(), 'plain.bin')
    k = await startKeeper('keeper-delegation', keeperHome(), join(keeperHome(), 'keeper'))

    // The owner hands one file over with a delegation; the other reaches the keeper from a machine
    // that does not own it, so without one.
    const given = await g.cli(['keep', delegatedFile.verifyLink, '--keeper', k.url, '--json'], { env: { SHARDFARM_HOME: ownerHome() } })
    expect(given.code, given.stderr).toBe(0)
    expect((JSON.parse(given.out) as { key: string }).key).toBe('delegated')
    const other = await g.cli(['keep', plain.verifyLink, '--keeper', k.url, '--json'], { env: { SHARDFARM_HOME: keeperHome() } })
    expect(other.code, other.stderr).toBe(0)
    expect((JSON.parse(other.out) as { key: string }).key).toBe('keeper')

    const ids = [delegatedFile.manifestId, plain.manifestId]
    await waitFiles(k, 'a first audit', ids, f => f.lastAuditAt !== undefined && f.segments.length > 0)
    // One farmer holding a fragment of each file's first segment goes for good.
    const victims = new Set([delegatedFile.holders[0]!, plain.holders[0]!])
    for (const peer of victims) await g.kill(g.farmers.find(f => f.peerId === peer)!)
    const files = await waitFiles(k, 'the repairs', ids, f => (f.lastRepair?.fragmentsStored ?? 0) > 0 && f.segments.every(s => s.proven === 6))
    expect(files.find(f => f.manifestId === delegatedFile.manifestId)!.key).toBe('delegated')
    expect(files.find(f => f.manifestId === plain.manifestId)!.key).toBe('keeper')
    await stopChild(k.child, 10_000)
    // The lost farmers come back with their disks: rm reaches every copy, old and repaired.
    for (const f of g.farmers.filter(f => !g.alive(f))) await g.restart(f)

    expect(await held(delegatedFile.ids)).toBeGreaterThanOrEqual(7)
    for (const f of [delegatedFile, plain]) {
      const rm = await g.cli(['rm', f.link], { env: { SHARDFARM_HOME: ownerHome() } })
      expect(rm.code, rm.stderr).toBe(0)
    }
    // Every copy of the delegated file is gone from the live farmers, the repaired ones included …
    expect(await held(delegatedFile.ids)).toBe(0)
    // … while the copies the keeper claimed with its own key outlive the owner's rm.
    expect(await held(plain.ids)).toBeGreaterThan(0)
  }, 240_000)

  it('refuses forged, expired and foreign delegations, at the keeper and at the farmers', async () => {
    k = await startKeeper('keeper-attacks', keeperHome(), join(keeperHome(), 'keeper'))
    const file = await putFrom(ownerHome(), 'attacked.bin')
    const keeperKey = ((await (await fetch(`${k.url}/key`)).json()) as { key: string }).key
    const owner = await ownerKeyOf(ownerHome(), file.manifestId)
    const stranger = await generateOwnerKey()
    const post = async (delegation: unknown): Promise<{ status: number, body: { code?: string, message?: string } }> => {
      const res = await fetch(`${k.url}/keep`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ link: file.verifyLink, delegation }) })
      return { status: res.status, body: await res.json() as { code?: string, message?: string } }
    }
    const good = await signDelegation(owner, keeperKey, file.manifestId, Date.now() + DAY)
    // Forged: the owner's name on a stranger's signature.
    const forged = { ...await signDelegation(stranger, keeperKey, file.manifestId, Date.now() + DAY), owner: owner.publicKey }
    expect(await post(forged)).toMatchObject({ status: 403, body: { code: 'FORBIDDEN' } })
    // Expired.
    expect(await post(await signDelegation(owner, keeperKey, file.manifestId, Date.now() - 1000))).toMatchObject({ status: 403 })
    // Widened: the owner's signature over one file, presented for any.
    expect(await post({ ...good, scope: 'any' })).toMatchObject({ status: 403 })
    // Another owner's, well signed, for this file: its manifest names a different owner.
    const foreign = await post(await signDelegation(stranger, keeperKey, file.manifestId, Date.now() + DAY))
    expect(foreign.status).toBe(403)
    expect(foreign.body.message).toMatch(/owner/)
    // Too big a body, and not a link.
    expect((await fetch(`${k.url}/keep`, { method: 'POST', body: 'x'.repeat(20_000) })).status).toBe(413)
    expect((await fetch(`${k.url}/keep`, { method: 'POST', body: JSON.stringify({ link: 'nope' }) })).status).toBe(400)
    // None of them was kept; the real one is.
    expect((await keptFiles(k)).some(f => f.manifestId === file.manifestId)).toBe(false)
    expect((await post(good)).status).toBe(200)

    // At the farmers: a delegated RENEW of the owner's claims is honoured with a real delegation and
    // refused with a forged, an expired or another owner's one.
    const client = new FarmerClient({ libp2p: g.node })
    const holder = g.farmers.find(f => f.peerId === file.holders[0])!
    const id = file.ids[0]!
    const me = await generateOwnerKey() // the test plays the keeper
    const real = delegatedKey(me, await signDelegation(owner, me.publicKey, file.manifestId, Date.now() + DAY))
    expect((await client.renew(addrOf(holder), [id], real)).renewed).toEqual([true])
    const refusals = [
      delegatedKey(me, { ...await signDelegation(stranger, me.publicKey, file.manifestId, Date.now() + DAY), owner: owner.publicKey }),
      delegatedKey(me, await signDelegation(owner, me.publicKey, file.manifestId, Date.now() - 1000)),
      // A delegation from the stranger, sent against the owner's claims.
      { ...delegatedKey(me, await signDelegation(stranger, me.publicKey, file.manifestId, Date.now() + DAY)), publicKey: owner.publicKey },
      // A real delegation to someone else, used with this key.
      delegatedKey(await generateOwnerKey(), real.delegation)
    ]
    for (const key of refusals) {
      await expect(client.renew(addrOf(holder), [id], key)).rejects.toMatchObject({ code: 'FORBIDDEN' })
    }
    // A delegated PUT lands under the owner's key (the owner's signed DELETE then removes it), and a forged one is refused.
    const bytes = crypto.getRandomValues(new Uint8Array(1000))
    const newId = await sha256Hex(bytes)
    await expect(client.put(addrOf(holder), newId, bytes, { owner: refusals[0]! })).rejects.toMatchObject({ code: 'FORBIDDEN' })
    expect((await client.has(addrOf(holder), [newId]))[0]).toBe(false)
    await client.put(addrOf(holder), newId, bytes, { owner: real })
    expect((await client.has(addrOf(holder), [newId]))[0]).toBe(true)
    await client.delete(addrOf(holder), newId, owner)
    expect((await client.has(addrOf(holder), [newId]))[0]).toBe(false)
    // A delegate cannot delete: DELETE takes no delegation.
    await client.put(addrOf(holder), newId, bytes, { owner: real })
    await expect(client.delete(addrOf(holder), newId, real)).rejects.toMatchObject({ code: 'FORBIDDEN' })
    await stopChild(k.child, 10_000)
  }, 120_000)
})
