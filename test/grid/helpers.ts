// Shared by the multi-process tests: start real `shardfarm` children on 127.0.0.1, remember every
// PID, and SIGKILL whatever is still running in afterAll, so a failed test never leaves a process.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Libp2p } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { spawnShardfarm, stopChild } from '../../src/cli/spawn.ts'
import type { ShardfarmChild } from '../../src/cli/spawn.ts'
import { queryDirectory } from '../../src/net/protocols/directory.ts'
import type { FarmerListing } from '../../src/net/protocols/directory.ts'

/** How a test relay vets farmers. */
export interface RelayOptions {
  /** Seconds a farmer counts as new after the relay first saw it. @default 0 */
  vettingSeconds?: number
  /** Tell clients the farmers share a subnet on purpose. @default true */
  sharedSubnets?: boolean
  /** New farmer identities one network may list a minute. @default the relay's (64) */
  newFarmersPerMinute?: number
}

/** A started child, with the tail of its JSON logs for failure messages. */
export interface TestChild extends ShardfarmChild { logs: string[], name: string }

export class Grid {
  readonly children: TestChild[] = []
  root = ''

  async init (): Promise<void> {
    this.root = await mkdtemp(join(tmpdir(), 'shardfarm-grid-'))
  }

  async start (name: string, args: string[]): Promise<TestChild> {
    const logs: string[] = []
    let c: ShardfarmChild
    try {
      c = await spawnShardfarm(args, { name, stderr: 'pipe', onStderr: (line) => { logs.push(line); if (logs.length > 200) logs.shift() } })
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${logs.join('\n')}`, { cause: err })
    }
    const child = Object.assign(c, { logs, name })
    this.children.push(child)
    return child
  }

  /**
   * A relay whose directory forgets farmers silent for `ttlMs`. Every test farmer runs on this host,
   * so by default farmers are vetted at once and the relay says they share a subnet on purpose, as
   * `shardfarm grid` does; a test of vetting asks for a period (`vettingSeconds`).
   */
  async relay (ttlMs: number, options: RelayOptions = {}): Promise<TestChild> {
    return await this.start('relay', ['relay', '--data', join(this.root, 'relay'), '--directory-ttl', String(ttlMs),
      '--vetting-period', `${options.vettingSeconds ?? 0}s`, ...(options.sharedSubnets === false ? [] : ['--shared-subnets']),
      ...(options.newFarmersPerMinute !== undefined ? ['--new-farmers-per-minute', String(options.newFarmersPerMinute)] : [])])
  }

  async farmer (name: string, relay: string, extra: string[] = []): Promise<TestChild> {
    return await this.start(name, ['farmer', '--data', join(this.root, name), '--relay', relay, ...extra])
  }

  /** SIGTERM and wait (clean stop). */
  async stop (c: TestChild): Promise<number | string> {
    return await stopChild(c, 5_000)
  }

  /** SIGKILL everything still running, by PID, then remove the data. */
  async destroy (): Promise<void> {
    for (const c of this.children) {
      if (c.child.exitCode === null && c.child.signalCode === null) {
        try { process.kill(c.pid, 'SIGKILL') } catch { /* already gone */ }
      }
    }
    await Promise.all(this.children.map(async c => await c.exited))
    if (this.root !== '') await rm(this.root, { recursive: true, force: true })
  }
}

/** Peer id at the end of a multiaddr. */
export function peerOf (addr: string): string {
  return multiaddr(addr).getComponents().findLast(c => c.name === 'p2p')!.value!
}

/** Polls the directory until `done(listings)` holds or `timeoutMs` passes; returns the last answer. */
export async function waitForDirectory (node: Libp2p, relay: string, done: (l: FarmerListing[]) => boolean, timeoutMs = 10_000): Promise<FarmerListing[]> {
  const until = Date.now() + timeoutMs
  for (;;) {
    const listings = await queryDirectory(node, multiaddr(relay))
    if (done(listings) || Date.now() > until) return listings
    await new Promise(resolve => setTimeout(resolve, 100))
  }
}

/** GET a URL of a farmer's HTTP endpoint as text. */
export async function httpText (url: string): Promise<{ status: number, body: string }> {
  const res = await fetch(url)
  return { status: res.status, body: await res.text() }
}

/** The farmer's HTTP endpoint, read from its "farmer listening" log line (stderr may trail stdout a little). */
export async function httpUrlOf (c: TestChild): Promise<string> {
  for (let i = 0; i < 50; i++) {
    for (const line of c.logs) {
      const entry = JSON.parse(line) as { msg?: string, http?: string }
      if (entry.msg === 'farmer listening' && entry.http !== undefined) return entry.http
    }
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  throw new Error(`${c.name} logged no HTTP address`)
}
