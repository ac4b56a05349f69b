// A grid over TLS: a relay and six farmers serving only `wss` (`--tls-cert`, `--tls-key`, a
// self-signed certificate made here for 127.0.0.1), every address they give out a `/tls/ws` one,
// and the CLI putting and getting a file over them when it trusts the certificate, and failing
// with "unavailable" (exit 3 or 5, never a hang) when it does not. Bad TLS flags are usage errors.
import { execFile, spawn } from 'node:child_process'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { GRID_REGIONS } from '../../src/cli/grid.ts'
import { Grid } from '../grid/helpers.ts'
import type { TestChild } from '../grid/helpers.ts'
import { TEST_POLICY_FILE } from '../support/test-policy.ts'
import { BIN, MiB, sha256File, writeRandomFile } from './cli-grid.ts'

const grid = new Grid()
let relay: TestChild
const farmers: TestChild[] = []
let cert = ''
let key = ''
const caBefore = process.env.NODE_EXTRA_CA_CERTS

interface Run { code: number | null, out: string, err: string }
async function cli (args: string[], env: Record<string, string> = {}): Promise<Run> {
  const child = spawn(process.execPath, [BIN, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, SHARDFARM_HOME: join(grid.root, 'home'), SHARDFARM_CONFIG: join(grid.root, 'config'), SHARDFARM_RELAY: '', SHARDFARM_FROM_SOURCE: '1', ...env }
  })
  let out = ''
  let err = ''
  child.stdout.on('data', (b: Buffer) => { out += b.toString() })
  child.stderr.on('data', (b: Buffer) => { err += b.toString() })
  const timer = setTimeout(() => child.kill('SIGKILL'), 90_000)
  const code = await new Promise<number | null>(resolve => child.once('close', resolve))
  clearTimeout(timer)
  return { code, out: out.trim(), err }
}

beforeAll(async () => {
  await grid.init()
  cert = join(grid.root, 'cert.pem')
  key = join(grid.root, 'key.pem')
  await promisify(execFile)('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'])
  await mkdir(join(grid.root, 'config'), { mode: 0o700 })
  // Every process started from here trusts the certificate (the relay dials farmers back over it).
  process.env.NODE_EXTRA_CA_CERTS = cert
  relay = await grid.start('relay', ['relay', '--data', join(grid.root, 'relay'), '--vetting-period', '0', '--shared-subnets', '--tls-cert', cert, '--tls-key', key])
  farmers.push(...await Promise.all(Array.from({ length: 6 }, async (_, i) => await grid.start(`farmer-${i}`,
    ['farmer', '--data', join(grid.root, `farmer-${i}`), '--relay', relay.addr, '--region', GRID_REGIONS[i % 3]!, '--heartbeat', '1000', '--tls-cert', cert, '--tls-key', key]))))
}, 60_000)

afterAll(async () => {
  if (caBefore === undefined) delete process.env.NODE_EXTRA_CA_CERTS
  else process.env.NODE_EXTRA_CA_CERTS = caBefore
  await grid.destroy()
})

describe('a grid serving wss only', () => {
  it('gives out /tls/ws addresses, and lists every farmer with one', async () => {
    expect(relay.addr).toMatch(/^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/tls\/ws\/p2p\/\w+$/)
    for (const f of farmers) expect(f.addr).toMatch(/\/tls\/ws\/p2p\/\w+$/)
    let listed: Array<{ addrs: string[] }> = []
    for (let i = 0; i < 40 && listed.length < 6; i++) {
      const r = await cli(['farmers', '--json', '--relay', relay.addr])
      if (r.code === 0) listed = (JSON.parse(r.out.split('\n').at(-1)!) as { farmers: Array<{ addrs: string[] }> }).farmers
      if (listed.length < 6) await new Promise(resolve => setTimeout(resolve, 250))
    }
    expect(listed).toHaveLength(6)
    for (const f of listed) for (const a of f.addrs) expect(a).toContain('/tls/ws/')
  }, 60_000)

  it('puts and gets a file byte-identically over TLS', async () => {
    const src = join(grid.root, 'file.bin')
    const digest = await writeRandomFile(src, 9 * MiB)
    const put = await cli(['put', src, '--json', '--policy', TEST_POLICY_FILE, '--relay', relay.addr])
    expect(put.code, put.err).toBe(0)
    const { link } = JSON.parse(put.out.split('\n').at(-1)!) as { link: string }
    const out = join(grid.root, 'back.bin')
    const get = await cli(['get', link, '-o', out, '--relay', relay.addr])
    expect(get.code, get.err).toBe(0)
    expect(await sha256File(out)).toBe(digest)
  }, 120_000)

  it('a client that does not trust the certificate cannot reach the grid, and says so', async () => {
    const src = join(grid.root, 'small.bin')
    await writeFile(src, 'not over an untrusted certificate')
    const put = await cli(['put', src, '--policy', TEST_POLICY_FILE, '--relay', relay.addr], { NODE_EXTRA_CA_CERTS: '' })
    expect(put.code).not.toBe(0)
    expect(put.code).not.toBeNull() // it ended by itself
    expect(put.err.length).toBeGreaterThan(0)
  }, 120_000)

  it('refuses a certificate without its key, and a file that is not PEM, as usage errors', async () => {
    const half = await cli(['farmer', '--data', join(grid.root, 'x'), '--tls-cert', cert])
    expect(half.code).toBe(2)
    expect(half.err).toMatch(/--tls-cert and --tls-key go together/)
    const notPem = join(grid.root, 'not.pem')
    await writeFile(notPem, await readFile(BIN))
    const bad = await cli(['relay', '--data', join(grid.root, 'y'), '--tls-cert', notPem, '--tls-key', key])
    expect(bad.code).toBe(2)
    expect(bad.err).toMatch(/is not a PEM file/)
  }, 60_000)
})
