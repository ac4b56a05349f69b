/**
 * Argument helpers for the `shardfarm` subcommands. Parsing itself is `node:util` `parseArgs`
 * (strict, so a typo is an error and not a silently ignored flag); these turn its strings into
 * checked values with messages that name the flag.
 */
import { readFile } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import { multiaddr } from '@multiformats/multiaddr'
import { ShardfarmError } from '../core/errors.ts'

/** A bad command line. The CLI prints the message and exits with status 2. */
export class UsageError extends ShardfarmError {
  constructor (message: string) {
    super('UsageError', 'USAGE', message)
  }
}

type Spec = Record<string, { type: 'string' | 'boolean', short?: string, multiple?: boolean }>

/** A flag's parsed value: repeatable (`multiple: true`) string flags give every value in order. */
type FlagValue<O extends Spec[string]> = O['type'] extends 'string' ? (O['multiple'] extends true ? string[] : string) : boolean

/** Parses `argv` against `spec`; unknown flags and positionals throw `UsageError`. */
export function parseFlags<S extends Spec> (argv: string[], spec: S): { [K in keyof S]?: FlagValue<S[K]> } {
  try {
    return parseArgs({ args: argv, options: spec, strict: true, allowPositionals: false }).values as never
  } catch (err) {
    throw new UsageError((err as Error).message)
  }
}

const UNITS: Record<string, number> = {
  '': 1, b: 1, k: 1e3, kb: 1e3, m: 1e6, mb: 1e6, g: 1e9, gb: 1e9, t: 1e12, tb: 1e12,
  kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3, tib: 1024 ** 4
}

/** `10GiB`, `512MiB`, `1.5GB`, `4096` → bytes (integer). */
export function parseSize (flag: string, s: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(s.trim())
  const unit = UNITS[m?.[2]?.toLowerCase() ?? 'x']
  if (m === null || unit === undefined) throw new UsageError(`--${flag} must be a size like 10GiB or 500MB, got ${JSON.stringify(s)}`)
  const bytes = Math.floor(Number(m[1]) * unit)
  if (!Number.isSafeInteger(bytes) || bytes < 1) throw new UsageError(`--${flag} is out of range`)
  return bytes
}

/** A non-negative integer flag (ms, counts). */
export function parseCount (flag: string, s: string, min = 0): number {
  const n = Number(s)
  if (!/^\d+$/.test(s) || !Number.isSafeInteger(n) || n < min) throw new UsageError(`--${flag} must be an integer ≥ ${min}, got ${JSON.stringify(s)}`)
  return n
}

/** A host flags may name: an IPv4 address, or `localhost` (taken as 127.0.0.1). */
const HOST = '(\\d{1,3}(?:\\.\\d{1,3}){3}|localhost)'
const hostOf = (h: string): string => h === 'localhost' ? '127.0.0.1' : h

/** `HOST:PORT` (IPv4 or `localhost`) → `{ host, port }`; port 0 means any free port. */
export function parseHostPort (flag: string, s: string): { host: string, port: number } {
  const m = new RegExp(`^${HOST}:(\\d{1,5})$`).exec(s)
  const port = Number(m?.[2])
  if (m === null || port > 65535) throw new UsageError(`--${flag} must be HOST:PORT with an IPv4 host, e.g. 127.0.0.1:4001, got ${JSON.stringify(s)}`)
  return { host: hostOf(m[1]!), port }
}

/** `HOST` (IPv4 or `localhost`, taken as 127.0.0.1), as `parseHostPort` takes it without a port. */
export function parseHost (flag: string, s: string): string {
  const m = new RegExp(`^${HOST}$`).exec(s)
  if (m === null) throw new UsageError(`--${flag} must be an IPv4 address, e.g. 10.0.0.5, got ${JSON.stringify(s)}`)
  return hostOf(m[1]!)
}

/** The WebSocket listen multiaddr for `--listen HOST:PORT`; over TLS (`wss`) when `tls` is given. */
export function wsListenAddr (flag: string, s: string, tls?: unknown): string {
  const { host, port } = parseHostPort(flag, s)
  return `/ip4/${host}/tcp/${port}/${tls === undefined ? 'ws' : 'tls/ws'}`
}

/**
 * `--tls-cert PATH --tls-key PATH` (PEM files), read: both or neither. A file that cannot be read,
 * or is not PEM, is a `UsageError` naming it, before anything listens.
 */
export async function readTlsFlags (cert: string | undefined, key: string | undefined): Promise<{ cert: string, key: string } | undefined> {
  if (cert === undefined && key === undefined) return undefined
  if (cert === undefined || key === undefined) throw new UsageError('--tls-cert and --tls-key go together: a certificate and its private key, both PEM files')
  const read = async (flag: string, path: string): Promise<string> => {
    let text: string
    try { text = await readFile(path, 'utf8') } catch (err) { throw new UsageError(`--${flag}: cannot read ${JSON.stringify(path)} (${(err as NodeJS.ErrnoException).code ?? 'error'})`) }
    if (!text.includes('-----BEGIN ')) throw new UsageError(`--${flag}: ${JSON.stringify(path)} is not a PEM file`)
    return text
  }
  return { cert: await read('tls-cert', cert), key: await read('tls-key', key) }
}

/**
 * `--announce MULTIADDR` values: WebSocket addresses (`/ws`, `/wss` or `/tls/ws`) over TCP, without
 * `/p2p/` (the node adds its own id), that clients should dial instead of the listen address.
 */
export function announceFlags (given: readonly string[] | undefined): string[] {
  return (given ?? []).map(a => {
    let names: string[] = []
    try { names = multiaddr(a).getComponents().map(c => c.name) } catch { /* reported below */ }
    const last = names.at(-1)
    if (!names.includes('tcp') || (last !== 'ws' && last !== 'wss') || names.includes('p2p')) {
      throw new UsageError(`--announce must be a WebSocket multiaddr such as /dns4/farm.example.org/tcp/443/tls/ws (no /p2p/), got ${JSON.stringify(a)}`)
    }
    return a
  })
}

/** One of `choices`, or a `UsageError` naming them. */
export function parseChoice<T extends string> (flag: string, s: string, choices: readonly T[]): T {
  if (!(choices as readonly string[]).includes(s)) throw new UsageError(`--${flag} must be one of ${choices.join(', ')}, got ${JSON.stringify(s)}`)
  return s as T
}
