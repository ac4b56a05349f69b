/**
 * Structured logs for the Shardfarm processes: one JSON object per line on stderr, so stdout stays
 * free for the one line other programs parse (a process's multiaddr), and `grid` can interleave
 * many children's logs without mangling them. This is the CLI's adapter of the `Logger` port.
 */
import type { Logger } from '../core/logger.ts'

export type LogLevel = 'debug' | 'info' | 'warn' | 'error'
const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 }

/** Options of `createLogger`. */
export interface LoggerInit {
  /** Lowest level written. @default process.env.SHARDFARM_LOG_LEVEL ?? 'info' */
  level?: LogLevel
  /** Where lines go. @default a write to process.stderr */
  write?: (line: string) => void
}

/**
 * A JSON-lines logger. Every line has `time`, `level`, `proc` (from `SHARDFARM_PROC`, set by
 * `grid` for each child, else the component), the fixed fields and the message fields. Errors in
 * fields are flattened to `{ name, code, message }`: a stack per refused request would drown the log.
 */
export function createLogger (component: string, fixed: Record<string, unknown> = {}, init: LoggerInit = {}): Logger {
  const envLevel = process.env.SHARDFARM_LOG_LEVEL as LogLevel | undefined
  const min = RANK[init.level ?? (envLevel !== undefined && envLevel in RANK ? envLevel : 'info')]
  const write = init.write ?? ((line: string) => { process.stderr.write(line + '\n') })
  const base = { proc: process.env.SHARDFARM_PROC ?? component, ...fixed }
  const log = (level: LogLevel) => (msg: string, fields: Record<string, unknown> = {}) => {
    if (RANK[level] < min) return
    write(JSON.stringify({ time: new Date().toISOString(), level, ...base, msg, ...fields }, replacer))
  }
  return {
    debug: log('debug'),
    info: log('info'),
    warn: log('warn'),
    error: log('error'),
    child: (fields) => createLogger(component, { ...fixed, ...fields }, init)
  }
}

function replacer (_key: string, value: unknown): unknown {
  if (value instanceof Error) {
    const code = (value as { code?: unknown }).code
    return { name: value.name, ...(code !== undefined ? { code } : {}), message: value.message }
  }
  if (typeof value === 'bigint') return value.toString()
  return value
}
