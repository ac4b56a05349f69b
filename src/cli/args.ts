/**
 * Argument helpers for the `shardfarm` subcommands. Parsing itself is `node:util` `parseArgs`
 * (strict, so a typo is an error and not a silently ignored flag); these turn its strings into
 * checked values with messages that name the flag.
 */
import { parseArgs } from 'node:util'
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

/** `HOST:PORT` (IPv4 or `localhost`) → `{ host, port }`; port 0 means any free port. */
export function parseHostPort (flag: string, s: string): { host: string, port: number } {
  const m = /^(\d{1,3}(?:\.\d{1,3}){3}|localhost):(\d{1,5})$/.exec(s)
  const port = Number(m?.[2])
  if (m === null || port > 65535) throw new UsageError(`--${flag} must be HOST:PORT with an IPv4 host, e.g. 127.0.0.1:4001, got ${JSON.stringify(s)}`)
  return { host: m[1] === 'localhost' ? '127.0.0.1' : m[1]!, port }
}

/** The WebSocket listen multiaddr for `--listen HOST:PORT`. */
export function wsListenAddr (flag: string, s: string): string {
  const { host, port } = parseHostPort(flag, s)
  return `/ip4/${host}/tcp/${port}/ws`
}

/** One of `choices`, or a `UsageError` naming them. */
export function parseChoice<T extends string> (flag: string, s: string, choices: readonly T[]): T {
  if (!(choices as readonly string[]).includes(s)) throw new UsageError(`--${flag} must be one of ${choices.join(', ')}, got ${JSON.stringify(s)}`)
  return s as T
}
