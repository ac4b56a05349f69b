/**
 * Network "hosts" on one machine, for tests of a grid whose parts must not share an address. Each
 * host is a network namespace of its own, held open by a `sleep` that `unshare -n` started, with
 * `lo` and one Ethernet link (`eth0`) to a Linux bridge. The bridge sits in one more namespace, the
 * switch, so the machine's own interfaces are never touched: every veth pair is made from inside
 * the switch and its far end moved straight into its host. Nothing gets a global name (no
 * `ip netns add`); a command runs on a host through `nsenter -t <holder pid> -n`, and everything
 * started is killed by its PID. Once a namespace's last process is gone, the namespace and its
 * links go too.
 *
 * The hosts share one flat /16 (`LAN_PREFIX`.0.0/16), each alone in its /24 (`LAN_PREFIX`.N.2):
 * they reach each other without a router, and to the grid's per-network rules (`subnetOf`: IPv4
 * /24) they are as many networks as machines in different places would be.
 */
import { spawn, spawnSync } from 'node:child_process'
import type { ChildProcess, SpawnOptions } from 'node:child_process'
import { readFile, readlink } from 'node:fs/promises'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { multiaddr } from '@multiformats/multiaddr'
import { MAIN_TS, READY_TIMEOUT_MS } from '../../src/cli/spawn.ts'
import { TUNED_ENV, TUNED_FLAGS } from '../../src/cli/tuning.ts'
import { createNodeLibp2p } from '../../src/net/libp2p.node.ts'
import { queryDirectoryPage } from '../../src/net/protocols/directory.ts'
import type { TestChild } from '../grid/helpers.ts'

/** The first two octets of every host address. */
export const LAN_PREFIX = '10.77'
/** Longest a holder may sit in the machine's namespace before `unshare` has moved it. */
const HOLD_TIMEOUT_MS = 5_000
/** A holder outlives a test runner killed outright by at most this long. */
const HOLD_SECONDS = 600
const BIN = fileURLToPath(new URL('../../bin/shardfarm.js', import.meta.url))
const THIS_FILE = new URL(import.meta.url).href

/** One host of the LAN. */
export interface Host {
  name: string
  /** Its IPv4 address, alone in its /24. */
  ip: string
  /** The `sleep` holding its namespace open: commands run there with `nsenter -t pid -n`. */
  pid: number
}

/** A command run to its end. */
export interface RunResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: Buffer
  stderr: string
  /** stdout as trimmed text. */
  out: string
}

/** Why this machine cannot make the namespaces, or undefined when it can. */
export function namespacesUnavailable (): string | undefined {
  if (process.platform !== 'linux') return 'network namespaces need Linux'
  if (process.getuid?.() !== 0) return 'making network namespaces needs root'
  for (const [cmd, flag] of [['unshare', '--version'], ['nsenter', '--version'], ['ip', '-V']] as const) {
    if (spawnSync(cmd, [flag]).error !== undefined) return `${cmd} is not installed`
  }
  // In a throwaway namespace: the bridge and the pair vanish with it when `ip` exits.
  const probe = spawnSync('unshare', ['-n', '--', 'ip', '-batch', '-'], { input: 'link add probe0 type bridge\nlink add probe1 type veth peer name probe2\n' })
  if (probe.status !== 0) return `unshare -n with a bridge and a veth pair failed: ${probe.stderr.toString().trim()}`
  return undefined
}

export class Lan {
  readonly hosts: Host[] = []
  readonly #holders: ChildProcess[] = []
  readonly #started: ChildProcess[] = []
  /** Each host's port on the switch, by host name. */
  readonly #ports = new Map<string, string>()
  #switch: number | undefined
  #joined = 0

  /** Makes the switch and one host per entry (`LAN_PREFIX`.octet.2), and links each to the switch. */
  async build (hosts: ReadonlyArray<{ name: string, octet: number }>): Promise<void> {
    const sw = await this.#hold()
    this.#switch = sw
    const pids = await Promise.all(hosts.map(async () => await this.#hold()))
    await this.#ip(sw, ['link add br0 type bridge', 'link set br0 up', ...pids.flatMap((pid, i) =>
      [`link add port${i} type veth peer name eth0 netns ${pid}`, `link set port${i} master br0`, `link set port${i} up`])])
    await Promise.all(hosts.map(async (h, i) => {
      const ip = `${LAN_PREFIX}.${h.octet}.2`
      await this.#ip(pids[i]!, ['link set lo up', `addr add ${ip}/16 dev eth0`, 'link set eth0 up'])
      this.hosts[i] = { name: h.name, ip, pid: pids[i]! }
      this.#ports.set(h.name, `port${i}`)
    }))
  }

  /**
   * Limits `host`'s link to `rate` (tc syntax: `100mbit`) each way, as its own network connection
   * would: a token bucket on its `eth0` (what it sends) and on its port of the switch (what it
   * receives). The bucket holds 20 ms at that rate (at least 256 KiB, one segmentation-offloaded
   * burst), and queues at most 100 ms more before dropping.
   */
  async shape (host: Host, rate: string): Promise<void> {
    const port = this.#ports.get(host.name)
    if (port === undefined || this.#switch === undefined || host.pid === process.pid) throw new Error(`no built host ${host.name} to shape`)
    const bytesPerS = parseRate(rate)
    const burst = Math.max(256 * 1024, Math.round(bytesPerS / 50))
    const tbf = (dev: string): string => `tc qdisc replace dev ${dev} root tbf rate ${rate} burst ${burst} latency 100ms`
    await this.#run(host.pid, tbf('eth0'))
    await this.#run(this.#switch, tbf(port))
  }

  /**
   * Links this very process's namespace to the switch as one more host (`LAN_PREFIX`.octet.2), so
   * that a server the test itself runs (the app's web server) is on the LAN. Only from a namespace
   * that has nothing but `lo` (one a test run made for itself, as scripts/netns.sh does): the
   * machine's own interfaces are never touched. The link goes when the switch does.
   */
  async join (name: string, octet: number): Promise<Host> {
    if (this.#switch === undefined) throw new Error('build() the LAN first')
    // /proc/self/net is this process's namespace (/sys/class/net would be the namespace sysfs was mounted in).
    const own = (await readFile('/proc/self/net/dev', 'utf8')).split('\n').slice(2).map(l => l.split(':')[0]!.trim()).filter(n => n !== '')
    if (own.some(n => n !== 'lo')) throw new Error(`this process's network namespace has interfaces besides lo (${own.join(', ')}): run it in one of its own (scripts/netns.sh)`)
    const port = `join${this.#joined++}`
    const ip = `${LAN_PREFIX}.${octet}.2`
    await this.#ip(this.#switch, [`link add ${port} type veth peer name lan0 netns ${process.pid}`, `link set ${port} master br0`, `link set ${port} up`])
    await this.#ip(process.pid, [`addr add ${ip}/16 dev lan0`, 'link set lan0 up'])
    const host = { name, ip, pid: process.pid }
    this.hosts.push(host)
    return host
  }

  host (name: string): Host {
    const h = this.hosts.find(x => x.name === name)
    if (h === undefined) throw new Error(`no host ${name}`)
    return h
  }

  /** Starts `argv` on `host`; `destroy()` kills it if it still runs. */
  spawn (host: Host, argv: readonly string[], options: SpawnOptions = {}): ChildProcess {
    // nsenter enters the namespace and execs the command: the PID is the command's own.
    const child = spawn('nsenter', ['-t', String(host.pid), '-n', '--', ...argv], options)
    this.#started.push(child)
    return child
  }

  /** Runs `argv` on `host` to its end (SIGKILLed after `timeoutMs`). */
  async run (host: Host, argv: readonly string[], options: { env?: NodeJS.ProcessEnv, cwd?: string, timeoutMs?: number } = {}): Promise<RunResult> {
    const child = this.spawn(host, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: options.env ?? process.env, ...(options.cwd !== undefined ? { cwd: options.cwd } : {}) })
    return await collect(child, options.timeoutMs ?? 60_000)
  }

  /** SIGKILLs every process started on a host, then every holder, by PID, and waits for them all. */
  async destroy (): Promise<void> {
    await Promise.all(this.#started.map(killAndWait))
    await Promise.all(this.#holders.map(killAndWait))
  }

  /** A new namespace, held by a `sleep`; resolves with its PID once the `sleep` runs in it. */
  async #hold (): Promise<number> {
    const holder = spawn('unshare', ['-n', '--', 'sleep', String(HOLD_SECONDS)], { stdio: 'ignore' })
    this.#holders.push(holder)
    const pid = holder.pid
    if (pid === undefined) throw new Error('unshare did not start')
    const ours = await readlink('/proc/self/ns/net')
    const until = Date.now() + HOLD_TIMEOUT_MS
    // `sleep` runs only after unshare(2) succeeded; until then nsenter would enter the machine's own namespace.
    while ((await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '')).trim() !== 'sleep' || await readlink(`/proc/${pid}/ns/net`) === ours) {
      if (holder.exitCode !== null || Date.now() > until) throw new Error(`unshare -n did not make a namespace (exit ${String(holder.exitCode)})`)
      await new Promise(resolve => setTimeout(resolve, 10))
    }
    return pid
  }

  /** One command (split on spaces) in the namespace held by `pid`, with `input` on its stdin. */
  async #run (pid: number, line: string, input?: string): Promise<void> {
    const child = spawn('nsenter', ['-t', String(pid), '-n', '--', ...line.split(' ')], { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] })
    this.#started.push(child)
    if (input !== undefined) child.stdin!.end(input)
    const r = await collect(child, 10_000)
    if (r.code !== 0) throw new Error(`${line} in namespace ${pid} exited ${String(r.code ?? r.signal)}: ${r.stderr}`)
  }

  /** `ip -batch` in the namespace held by `pid`. */
  async #ip (pid: number, lines: string[]): Promise<void> {
    await this.#run(pid, 'ip -batch -', lines.join('\n') + '\n')
  }
}

/** Bytes per second of a tc rate (`800kbit`, `100mbit`, `1gbit`). */
export function parseRate (rate: string): number {
  const m = /^(\d+(?:\.\d+)?)(kbit|mbit|gbit)$/.exec(rate)
  if (m === null) throw new Error(`a link rate like 100mbit, not ${rate}`)
  return Number(m[1]) * { kbit: 1e3, mbit: 1e6, gbit: 1e9 }[m[2] as 'kbit' | 'mbit' | 'gbit'] / 8
}

/**
 * Starts a long-running `shardfarm` subcommand (relay, farmer) on `host` and waits for the address
 * line it prints, as `spawnShardfarm` does on the machine's own network: tuned like the CLI, with
 * an IPC channel so that it stops itself when the test runner dies.
 */
export async function startShardfarm (lan: Lan, host: Host, name: string, args: readonly string[]): Promise<TestChild> {
  const child = lan.spawn(host, [process.execPath, ...TUNED_FLAGS, MAIN_TS, ...args], {
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    detached: true,
    env: { ...process.env, ...TUNED_ENV, SHARDFARM_PROC: name }
  })
  child.channel?.unref()
  const logs: string[] = []
  createInterface({ input: child.stderr! }).on('line', line => { logs.push(line); if (logs.length > 200) logs.shift() })
  const exited = new Promise<number | string>(resolve => child.once('exit', (code, signal) => { resolve(code ?? signal ?? -1) }))
  const lines = createInterface({ input: child.stdout! })
  try {
    const addr = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => { reject(new Error(`${name} printed no address within ${READY_TIMEOUT_MS} ms`)) }, READY_TIMEOUT_MS)
      lines.once('line', line => { clearTimeout(timer); resolve(line.trim()) })
      void exited.then(code => { clearTimeout(timer); reject(new Error(`${name} exited (${code}) before printing its address\n${logs.join('\n')}`)) })
    })
    return { child, pid: child.pid!, addr, exited, logs, name }
  } finally {
    lines.close()
    child.stdout!.resume()
  }
}

/** Runs `shardfarm ...args` (bin/shardfarm.js, from the sources) on `host`, with `env` over this process's. */
export async function shardfarmCli (lan: Lan, host: Host, args: readonly string[], env: Record<string, string>, timeoutMs = 60_000): Promise<RunResult> {
  return await lan.run(host, [process.execPath, BIN, ...args], {
    env: { ...process.env, SHARDFARM_RELAY: '', SHARDFARM_RELAYS: '', SHARDFARM_FROM_SOURCE: '1', ...env }, timeoutMs
  })
}

/** One relay's directory as seen from a host. */
export interface DirectoryView {
  relay: string
  farmers: Array<{ peerId: string, addrs: string[], subnet?: string, admittedBy?: string }>
  /** Peer ids of the relays its answer lists (its federation). */
  relays: string[]
  error?: string
}

/**
 * Asks every relay in `relays` for its directory, from `host`, until each lists `farmers` farmers
 * and `federation` relays, or `timeoutMs` passes; the last answers. `shardfarm farmers` does not
 * print addresses or subnets, which are what a test across hosts is about.
 */
export async function directoryFrom (lan: Lan, host: Host, relays: readonly string[], want: { farmers: number, federation: number }, timeoutMs = 30_000): Promise<DirectoryView[]> {
  const program = `const m = await import(${JSON.stringify(THIS_FILE)}); process.stdout.write(JSON.stringify(await m.watchDirectories(...JSON.parse(process.argv[1])))); process.exit(0)`
  const r = await lan.run(host, [process.execPath, '--no-warnings', '--input-type=module', '-e', program, JSON.stringify([relays, want, timeoutMs])], { timeoutMs: timeoutMs + 15_000 })
  if (r.code !== 0) throw new Error(`directory query on ${host.name} exited ${String(r.code ?? r.signal)}: ${r.stderr}`)
  return JSON.parse(r.out) as DirectoryView[]
}

/** The loop of `directoryFrom`, run in a process on the host. */
export async function watchDirectories (relays: string[], want: { farmers: number, federation: number }, timeoutMs: number): Promise<DirectoryView[]> {
  const node = await createNodeLibp2p({ identify: false })
  const until = Date.now() + timeoutMs
  try {
    for (;;) {
      const views = await Promise.all(relays.map(async (relay): Promise<DirectoryView> => {
        try {
          const page = await queryDirectoryPage(node, multiaddr(relay), {}, { timeoutMs: 5_000 })
          const farmers = page.farmers.map(f => ({ peerId: f.peerId, addrs: f.addrs, subnet: f.subnet, admittedBy: f.admittedBy }))
          return { relay, farmers, relays: (page.relays ?? []).map(r => r.peerId) }
        } catch (err) {
          return { relay, farmers: [], relays: [], error: (err as Error).message }
        }
      }))
      if (Date.now() > until || views.every(v => v.farmers.length === want.farmers && v.relays.length === want.federation)) return views
      await new Promise(resolve => setTimeout(resolve, 250))
    }
  } finally {
    await node.stop()
  }
}

async function collect (child: ChildProcess, timeoutMs: number): Promise<RunResult> {
  const stdout: Buffer[] = []
  let stderr = ''
  child.stdout?.on('data', (b: Buffer) => stdout.push(b))
  child.stderr?.on('data', (b: Buffer) => { stderr += b.toString() })
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>(resolve => child.once('close', (c, s) => { resolve([c, s]) }))
  clearTimeout(timer)
  const buf = Buffer.concat(stdout)
  return { code, signal, stdout: buf, stderr, out: buf.toString().trim() }
}

async function killAndWait (child: ChildProcess): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return
  const gone = new Promise(resolve => child.once('exit', resolve))
  try { process.kill(child.pid, 'SIGKILL') } catch { return }
  await gone
}
