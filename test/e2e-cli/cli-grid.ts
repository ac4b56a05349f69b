// A local grid (relay + farmer processes, from test/grid/helpers.ts) plus the `shardfarm` CLI run
// as real child processes against it, the way a user runs them: `node bin/shardfarm.js put …` with
// SHARDFARM_HOME (keys and index) and SHARDFARM_CONFIG (where the relay is found) in a temp dir. Every process started here is remembered by PID
// and SIGKILLed in `destroy()`, so a failed test never leaves one behind.
import { fork, spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { mkdir, open, readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Libp2p } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { AdmissionBook } from '../../relay/admissions.ts'
import { GRID_REGIONS } from '../../src/cli/grid.ts'
import { LOCAL_GRID_FILE } from '../../src/cli/relay-address.ts'
import { parseCapability } from '../../src/core/capability.ts'
import { createNodeLibp2p } from '../../src/net/libp2p.node.ts'
import { CLAIMS_SUFFIX, HEADER_SIZE } from '../../src/stores/fs-format.ts'
import { loadOrCreateIdentity, STATE_DIR } from '../../src/stores/identity.node.ts'
import { FsKeyValueStore } from '../../src/stores/kv/fs.ts'
import { Grid, peerOf, waitForDirectory } from '../grid/helpers.ts'
import { withTestPolicy } from '../support/test-policy.ts'
import type { RelayOptions, TestChild } from '../grid/helpers.ts'

export const BIN = fileURLToPath(new URL('../../bin/shardfarm.js', import.meta.url))
export const MiB = 1024 * 1024
/** Plaintext of one full segment under the test policy (k = 4, 1 MiB shards, 16-byte GCM tag). */
export const LIVE_SEGMENT = 4 * MiB - 16

/** A keeper's Prometheus metrics (`URL/metrics`), by name with labels (`shardfarm_keeper_segments{health="healthy"}`). */
export async function keeperMetrics (url: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text()
  return new Map(text.split('\n').filter(l => l !== '' && !l.startsWith('#')).map(l => {
    const at = l.lastIndexOf(' ')
    return [l.slice(0, at), Number(l.slice(at + 1))] as const
  }))
}

/** One farmer process with what the tests need to find it again. */
export interface Farmer {
  name: string
  region: string
  peerId: string
  /** Its data directory (fragments under `fragments/ab/<id>`). */
  dir: string
  /** TCP port it listens on; a restart reuses it, so addresses in manifests stay valid. */
  port: number
  child: TestChild
}

/** Result of one CLI run. */
export interface CliResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: Buffer
  stderr: string
  /** Convenience: stdout as trimmed text. */
  out: string
}

export interface CliOptions {
  /** Called once the child is spawned (to kill it mid-run). */
  onSpawn?: (child: ChildProcess) => void
  /** SIGKILL after this long. @default 120 s */
  timeoutMs?: number
  /** Extra environment for this run. */
  env?: Record<string, string>
}

/** A black-hole farmer (`test/support/black-hole-farmer.ts`): lists itself, keeps nothing. */
export interface BlackHole {
  name: string
  peerId: string
  child: ChildProcess
  /** The ids of every fragment or manifest it was PUT. */
  puts: () => Promise<string[]>
  /** Stops it cleanly (it leaves the directory). */
  stop: () => Promise<void>
}

const BLACK_HOLE = fileURLToPath(new URL('../support/black-hole-farmer.ts', import.meta.url))

export class CliGrid {
  readonly grid = new Grid()
  readonly farmers: Farmer[] = []
  readonly blackHoles: BlackHole[] = []
  relay!: TestChild
  /** A libp2p node of the test itself (directory queries, farmer stats). */
  node!: Libp2p
  home = ''
  /** The CLI's config folder (SHARDFARM_CONFIG), where the local grid's relay is recorded. */
  config = ''
  work = ''
  readonly #clis = new Set<ChildProcess>()

  /**
   * Relay + `n` farmers over the grid's three regions, round robin, and its address where the CLI
   * looks. The relay vets farmers at once and says they share a subnet, unless `relay` says
   * otherwise; with `knownForSeconds`, the relay's admission table (written with the relay's own
   * `AdmissionBook`, before it starts) says it first saw these `n` farmers that long ago: farmers
   * that have served for a while, beside which a test can start new ones.
   */
  async start (n: number, relay: RelayOptions & { knownForSeconds?: number, ttlMs?: number } = {}): Promise<void> {
    await this.grid.init()
    this.home = join(this.grid.root, 'client')
    this.config = join(this.grid.root, 'config')
    this.work = join(this.grid.root, 'work')
    await Promise.all([mkdir(this.config, { mode: 0o700 }), mkdir(this.work)])
    if (relay.knownForSeconds !== undefined) await this.#seedAdmissions(n, relay.knownForSeconds)
    this.relay = await this.grid.relay(relay.ttlMs ?? 10_000, relay)
    await Promise.all(Array.from({ length: n }, async (_, i) => { await this.addFarmer(GRID_REGIONS[i % GRID_REGIONS.length]!) }))
    await writeFile(join(this.config, LOCAL_GRID_FILE), this.relay.addr + '\n')
    this.node = await createNodeLibp2p()
    await this.waitListed(n)
  }

  /** Makes the identities of farmers 0..n-1 and records them in the relay's admission table as first seen `seconds` ago. */
  async #seedAdmissions (n: number, seconds: number): Promise<void> {
    const relayDir = join(this.grid.root, 'relay')
    const book = await AdmissionBook.open({
      key: await loadOrCreateIdentity(relayDir), store: new FsKeyValueStore(join(relayDir, STATE_DIR)), now: () => Date.now() - seconds * 1000
    })
    for (let i = 0; i < n; i++) {
      const peerId = peerIdFromPrivateKey(await loadOrCreateIdentity(join(this.grid.root, `farmer-${i}`))).toString()
      book.commit(peerId, await book.prepare(peerId, '127.0.0.0/24'))
    }
    await book.stop()
  }

  async addFarmer (region: string): Promise<Farmer> {
    const name = `farmer-${this.farmers.length}`
    const slot = this.farmers.length
    this.farmers.push(undefined as unknown as Farmer) // keep names in start order
    const child = await this.grid.farmer(name, this.relay.addr, ['--region', region, '--heartbeat', '1000'])
    const f: Farmer = { name, region, peerId: peerOf(child.addr), dir: join(this.grid.root, name), port: portOf(child.addr), child }
    this.farmers[slot] = f
    return f
  }

  /**
   * Waits until the relay's directory lists exactly `n` farmers. A dial may be refused: libp2p
   * accepts at most 5 new connections per second from one host, and here every farmer is 127.0.0.1.
   */
  async waitListed (n: number): Promise<void> {
    const until = Date.now() + 20_000
    let last = -1
    while (Date.now() < until) {
      try {
        last = (await waitForDirectory(this.node, this.relay.addr, x => x.length === n, 2_000)).length
        if (last === n) return
      } catch { /* refused by the inbound rate limit: try again */ }
      await new Promise(resolve => setTimeout(resolve, 300))
    }
    throw new Error(`directory lists ${last} farmers, expected ${n}`)
  }

  byPeer (peerId: string): Farmer {
    const f = this.farmers.find(x => x.peerId === peerId)
    if (f === undefined) throw new Error(`no farmer ${peerId}`)
    return f
  }

  alive (f: Farmer): boolean {
    return f.child.child.exitCode === null && f.child.child.signalCode === null
  }

  async kill (f: Farmer): Promise<void> {
    process.kill(f.child.pid, 'SIGKILL')
    await f.child.exited
  }

  /** Starts a killed farmer again on its data directory and port (same identity, same fragments). */
  async restart (f: Farmer): Promise<void> {
    f.child = await this.grid.farmer(f.name, this.relay.addr, ['--region', f.region, '--heartbeat', '1000', '--listen', `127.0.0.1:${f.port}`])
  }

  /** Restarts every farmer that is down and waits for the directory to list them all. */
  async heal (): Promise<void> {
    await Promise.all(this.farmers.filter(f => !this.alive(f)).map(async f => { await this.restart(f) }))
    await this.waitListed(this.farmers.length)
  }

  /** Starts a black-hole farmer in `region` that joins this grid's relay. */
  async addBlackHole (region: string): Promise<BlackHole> {
    const name = `black-hole-${this.blackHoles.length}`
    const child = fork(BLACK_HOLE, [join(this.grid.root, name), this.relay.addr, region],
      { execArgv: ['--no-warnings'], stdio: ['ignore', 'ignore', 'pipe', 'ipc'] })
    child.stderr?.resume()
    const ask = async <T>(msg?: string): Promise<T> => await new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => { reject(new Error(`${name} did not answer`)) }, 30_000)
      child.once('message', m => { clearTimeout(timer); resolve(m as T) })
      child.once('exit', code => { clearTimeout(timer); reject(new Error(`${name} exited with ${String(code)}`)) })
      if (msg !== undefined) child.send(msg)
    })
    const hole: BlackHole = {
      name, child, peerId: '',
      puts: async () => (await ask<{ puts: string[] }>('report')).puts,
      stop: async () => {
        if (child.exitCode !== null || child.signalCode !== null) return
        const gone = new Promise(resolve => child.once('exit', resolve))
        child.send('stop')
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000)
        await gone
        clearTimeout(timer)
      }
    }
    this.blackHoles.push(hole)
    hole.peerId = (await ask<{ peerId: string }>()).peerId
    return hole
  }

  /** Paths of the fragment files a farmer holds on disk. */
  async fragmentFiles (f: Farmer): Promise<string[]> {
    const root = join(f.dir, 'fragments')
    const out: string[] = []
    for (const sub of await readdir(root)) {
      for (const name of await readdir(join(root, sub))) if (!name.endsWith(CLAIMS_SUFFIX)) out.push(join(root, sub, name))
    }
    return out
  }

  fragmentPath (f: Farmer, id: string): string {
    return join(f.dir, 'fragments', id.slice(0, 2), id)
  }

  /** Runs `shardfarm ...args` to its end; a `put` naming no policy gets the test policy (`test-policy.ts`). */
  async cli (args: string[], options: CliOptions = {}): Promise<CliResult> {
    const child = spawn(process.execPath, [BIN, ...withTestPolicy(args)], {
      cwd: this.work,
      stdio: ['ignore', 'pipe', 'pipe'],
      // The sources, whatever state dist-cli/ is in on this machine; bundle.test.ts opts in to a bundle.
      env: { ...process.env, SHARDFARM_HOME: this.home, SHARDFARM_CONFIG: this.config, SHARDFARM_RELAY: '', SHARDFARM_FROM_SOURCE: '1', ...options.env }
    })
    this.#clis.add(child)
    const stdout: Buffer[] = []
    let stderr = ''
    child.stdout.on('data', (b: Buffer) => stdout.push(b))
    child.stderr.on('data', (b: Buffer) => { stderr += b.toString() })
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000)
    options.onSpawn?.(child)
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>(resolve => child.once('close', (c, s) => { resolve([c, s]) }))
    clearTimeout(timer)
    this.#clis.delete(child)
    const buf = Buffer.concat(stdout)
    return { code, signal, stdout: buf, stderr, out: buf.toString().trim() }
  }

  /** `put FILE --json`, expecting success. */
  async put (file: string, extra: string[] = []): Promise<PutJson> {
    const r = await this.cli(['put', file, '--json', ...extra])
    if (r.code !== 0) throw new Error(`put ${file} exited ${r.code}: ${r.stderr}`)
    return JSON.parse(r.out) as PutJson
  }

  /**
   * `get`s every file to `path + '.out'`; the files whose get failed or whose bytes differ, each with
   * why (an empty list: all read back byte-identical).
   */
  async unreadable (files: ReadonlyArray<{ path: string, digest: string, link: string }>): Promise<string[]> {
    const bad: string[] = []
    for (const f of files) {
      const out = f.path + '.out'
      const got = await this.cli(['get', f.link, '-o', out])
      if (got.code !== 0) bad.push(`${f.path}: get exited ${String(got.code)}: ${got.stderr}`)
      else if (await sha256File(out) !== f.digest) bad.push(`${f.path}: read back different bytes`)
    }
    return bad
  }

  /** Fragment files on every farmer's disk, summed. */
  async storedCount (): Promise<number> {
    let n = 0
    for (const f of this.farmers) n += (await this.fragmentFiles(f)).length
    return n
  }

  async destroy (): Promise<void> {
    for (const c of this.#clis) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
    for (const h of this.blackHoles) if (h.child.exitCode === null && h.child.signalCode === null) h.child.kill('SIGKILL')
    await this.node?.stop()
    await this.grid.destroy()
  }
}

export interface PutJson { link: string, size: number, segments: number, policy: string, sentBytes: number }

/** Manifest holders named in a link. */
export function linkHolders (link: string): string[] {
  return parseCapability(link).holders
}

function portOf (addr: string): number {
  const m = /\/tcp\/(\d+)\//.exec(addr)
  if (m === null) throw new Error(`no port in ${addr}`)
  return Number(m[1])
}

/** Writes `size` random bytes to `path` in 8 MiB chunks; returns their SHA-256. */
export async function writeRandomFile (path: string, size: number): Promise<string> {
  const hash = createHash('sha256')
  const fh = await open(path, 'w')
  try {
    for (let at = 0; at < size; at += 8 * MiB) {
      const buf = randomBytes(Math.min(8 * MiB, size - at))
      hash.update(buf)
      await fh.write(buf)
    }
  } finally {
    await fh.close()
  }
  return hash.digest('hex')
}

export async function sha256File (path: string): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer)
  return hash.digest('hex')
}

export function sha256 (b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex')
}

/** Flips one byte of a fragment file's payload in place (past the 64-byte header). */
export async function corruptPayload (path: string, at = 0): Promise<void> {
  const fh = await open(path, 'r+')
  try {
    const buf = Buffer.alloc(1)
    await fh.read(buf, 0, 1, HEADER_SIZE + at)
    buf[0] = buf[0]! ^ 0xff
    await fh.write(buf, 0, 1, HEADER_SIZE + at)
  } finally {
    await fh.close()
  }
}
