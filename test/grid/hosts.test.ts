// A grid across network hosts on one machine (`test/support/hosts.ts`): three federated relays,
// nine farmers and a CLI client, each on a host of its own with an address of its own. It proves
// that nothing in the grid depends on everything being 127.0.0.1: farmers announce the address
// they listen on and the relays list it with the farmer's own /24; the client, whose loopback holds
// nobody, puts 10 MiB and gets it back byte for byte with placement's one-fragment-per-subnet rule
// in force (no --shared-subnets); and with two relays SIGKILLed, a fresh client still gets it.
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { GRID_REGIONS } from '../../src/cli/grid.ts'
import { loadOrCreateIdentity } from '../../src/stores/identity.node.ts'
import { LIVE_SEGMENT, MiB, sha256File, writeRandomFile } from '../e2e-cli/cli-grid.ts'
import { directoryFrom, Lan, namespacesUnavailable, shardfarmCli, startShardfarm } from '../support/hosts.ts'
import type { DirectoryView, Host } from '../support/hosts.ts'
import { TEST_POLICY, TEST_POLICY_FILE } from '../support/test-policy.ts'
import type { TestChild } from './helpers.ts'

const unavailable = namespacesUnavailable()
const RELAYS = 3
const FARMERS = 9
/** Every relay listens on this port of its own host. */
const RELAY_PORT = 4001

const lan = new Lan()
let root = ''
const relays: TestChild[] = []
const relayAddrs: string[] = []
const farmers: Array<{ child: TestChild, host: Host, peerId: string, dir: string }> = []
let client: Host
let views: DirectoryView[] = []
let link = ''
let hash = ''

/** The CLI on the client host, with a data folder (`home`) of its own and an empty config folder. */
async function cli (home: string, args: string[]): Promise<{ code: number | null, out: string, stderr: string }> {
  await mkdir(join(root, home), { recursive: true, mode: 0o700 })
  return await shardfarmCli(lan, client, args, { SHARDFARM_HOME: join(root, home), SHARDFARM_CONFIG: join(root, 'config') })
}

const allRelays = (): string[] => relayAddrs.flatMap(r => ['--relay', r])

/** The /24 a host is alone in. */
const subnet = (h: Host): string => `${h.ip.split('.').slice(0, 3).join('.')}.0/24`

describe.skipIf(unavailable !== undefined)(`a grid across network hosts${unavailable !== undefined ? ` (skipped: ${unavailable})` : ''}`, () => {
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'shardfarm-hosts-'))
    await mkdir(join(root, 'config'), { mode: 0o700 })
    await lan.build([
      ...Array.from({ length: RELAYS }, (_, i) => ({ name: `relay-${i}`, octet: 1 + i })),
      ...Array.from({ length: FARMERS }, (_, i) => ({ name: `farmer-${i}`, octet: 11 + i })),
      { name: 'client', octet: 100 }
    ])
    client = lan.host('client')
    // Identities made first, so every relay can be started at once with the others as --peer.
    for (let i = 0; i < RELAYS; i++) {
      const id = peerIdFromPrivateKey(await loadOrCreateIdentity(join(root, `relay-${i}`))).toString()
      relayAddrs.push(`/ip4/${lan.host(`relay-${i}`).ip}/tcp/${RELAY_PORT}/ws/p2p/${id}`)
    }
    // No --shared-subnets: every farmer is alone in its /24. Nor the per-network caps on new farmers raised: one farmer a network.
    relays.push(...await Promise.all(relayAddrs.map(async (addr, i) => await startShardfarm(lan, lan.host(`relay-${i}`), `relay-${i}`, [
      'relay', '--data', join(root, `relay-${i}`), '--listen', `${lan.host(`relay-${i}`).ip}:${RELAY_PORT}`, '--vetting-period', '0',
      ...relayAddrs.filter(a => a !== addr).flatMap(a => ['--peer', a])
    ]))))
    expect(relays.map(r => r.addr)).toEqual(relayAddrs)
    farmers.push(...await Promise.all(Array.from({ length: FARMERS }, async (_, i) => {
      const host = lan.host(`farmer-${i}`)
      const dir = join(root, `farmer-${i}`)
      const child = await startShardfarm(lan, host, `farmer-${i}`, ['farmer', '--data', dir, '--listen', `${host.ip}:0`, ...allRelays(),
        '--region', GRID_REGIONS[i % GRID_REGIONS.length]!])
      return { child, host, dir, peerId: child.addr.split('/p2p/')[1]! }
    })))
    views = await directoryFrom(lan, client, relayAddrs, { farmers: FARMERS, federation: RELAYS })
  }, 60_000)

  afterAll(async () => {
    await lan.destroy()
    if (root !== '') await rm(root, { recursive: true, force: true })
  }, 20_000)

  it('every relay, asked from the client host, lists the nine farmers at their own addresses and /24s, and its two peers', () => {
    for (const farmer of farmers) expect(farmer.child.addr).toMatch(new RegExp(`^/ip4/${farmer.host.ip.replaceAll('.', '\\.')}/tcp/\\d+/ws/p2p/`))
    const want = farmers.map(f => ({ peerId: f.peerId, addrs: [f.child.addr], subnet: subnet(f.host) })).sort((a, b) => a.peerId.localeCompare(b.peerId))
    for (const view of views) {
      expect(view.error, view.relay).toBeUndefined()
      const got = view.farmers.map(f => ({ peerId: f.peerId, addrs: f.addrs, subnet: f.subnet })).sort((a, b) => a.peerId.localeCompare(b.peerId))
      expect(got, view.relay).toEqual(want)
      expect(view.relays.sort(), view.relay).toEqual(relayAddrs.map(a => a.split('/p2p/')[1]!).sort())
    }
    expect(new Set(want.map(f => f.subnet)).size).toBe(FARMERS)
  })

  it('`shardfarm farmers --json` on the client host, given one relay, lists all nine', async () => {
    const r = await cli('lister', ['farmers', '--json', '--relay', relayAddrs[1]!])
    expect(r.code, r.stderr).toBe(0)
    const rows = (JSON.parse(r.out.split('\n').at(-1)!) as { farmers: Array<{ peerId: string, region: string }> }).farmers
    expect(rows.map(x => x.peerId).sort()).toEqual(farmers.map(f => f.peerId).sort())
    expect(new Set(rows.map(x => x.region))).toEqual(new Set(GRID_REGIONS))
  }, 30_000)

  it('the client host puts 10 MiB, each segment on six farmers on six hosts, and a fresh client gets it back byte for byte', async () => {
    const src = join(root, 'ten.bin')
    hash = await writeRandomFile(src, 10 * MiB)
    const put = await cli('owner', ['put', src, '--policy', TEST_POLICY_FILE, '--json', ...allRelays()])
    expect(put.code, put.stderr).toBe(0)
    link = (JSON.parse(put.out) as { link: string }).link

    const st = await cli('owner', ['stat', link, '--json', '--relay', relayAddrs[2]!])
    expect(st.code, st.stderr).toBe(0)
    const { segments } = JSON.parse(st.out) as { segments: Array<{ status: string, fragments: Array<{ id: string, reachable: string[] }> }> }
    expect(segments).toHaveLength(Math.ceil(10 * MiB / LIVE_SEGMENT))
    for (const seg of segments) {
      expect(seg.status).toBe('healthy')
      expect(seg.fragments).toHaveLength(TEST_POLICY.k + TEST_POLICY.m)
      const holders = seg.fragments.map(f => {
        expect(f.reachable).toHaveLength(1)
        const farmer = farmers.find(x => x.peerId === f.reachable[0])
        if (farmer === undefined) throw new Error(`fragment ${f.id} is on ${String(f.reachable[0])}, not one of the nine farmers`)
        return { farmer, id: f.id }
      })
      // One fragment per host (each alone in its /24), and each on that farmer's own disk.
      expect(new Set(holders.map(h => h.farmer.host.ip)).size).toBe(TEST_POLICY.k + TEST_POLICY.m)
      for (const h of holders) expect((await stat(join(h.farmer.dir, 'fragments', h.id.slice(0, 2), h.id))).isFile()).toBe(true)
    }

    const out = join(root, 'ten.out')
    const get = await cli('reader', ['get', link, '-o', out, ...allRelays()])
    expect(get.code, get.stderr).toBe(0)
    expect(await sha256File(out)).toBe(hash)
  }, 60_000)

  it('with two of the three relays SIGKILLed, a fresh client given all three still gets the file', async () => {
    expect(link).not.toBe('')
    for (const r of relays.slice(0, 2)) {
      process.kill(r.pid, 'SIGKILL')
      await r.exited
    }
    const out = join(root, 'survivor.out')
    const get = await cli('survivor', ['get', link, '-o', out, ...allRelays()])
    expect(get.code, get.stderr).toBe(0)
    expect(await sha256File(out)).toBe(hash)
  }, 45_000)
})
