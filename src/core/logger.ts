/**
 * The `Logger` port: what a long-running part (a farmer process, the relay) needs to report what it
 * does. It is injected, so those parts run the same under the CLI's JSON-lines logger on stderr
 * (`src/cli/log.ts`), in tests, or anywhere else a process wants its lines to go.
 */

/** A logger bound to a component name and fixed fields. */
export interface Logger {
  debug: (msg: string, fields?: Record<string, unknown>) => void
  info: (msg: string, fields?: Record<string, unknown>) => void
  warn: (msg: string, fields?: Record<string, unknown>) => void
  error: (msg: string, fields?: Record<string, unknown>) => void
  /** A logger with more fixed fields. */
  child: (fields: Record<string, unknown>) => Logger
}
