/**
 * The keeper's HTTP API (`shardfarm keeper --http HOST:PORT`): `/metrics` and `/health` for
 * operators, and for owners (the app's "Keep safe", `shardfarm keep LINK --keeper URL`) `GET /key`
 * (the key to delegate to), `POST /keep` (a link, with the owner's delegation or without) and
 * `GET /files` (what the keeper last saw of each file). The owner routes answer any origin
 * (`Access-Control-Allow-Origin: *`, never credentials): the app may be served from anywhere, and
 * nothing here is secret or tied to a cookie. A body is at most `MAX_KEEP_BODY_BYTES`, every
 * request has a deadline, and a link is checked before it is kept. See docs/keeper.md.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { CapabilityError, parseCapability, type Capability } from '../core/capability.ts'
import { checkDelegation, DelegationError, type Delegation } from '../core/delegation.ts'
import type { Logger } from '../core/logger.ts'
import type { Keeper, KeptFileStatus } from './keeper.ts'
import type { KeeperState } from './state.ts'

/** Largest `POST /keep` body. @default 16 KiB (a link is about 300 bytes, a delegation about 330) */
export const MAX_KEEP_BODY_BYTES = 16 * 1024
/** Deadline of one request, body and manifest check included. @default 30 s */
export const KEEPER_HTTP_TIMEOUT_MS = 30_000

/** What the API runs on. */
export interface KeeperHttpComponents {
  keeper: Pick<Keeper, 'files' | 'wake' | 'metrics' | 'lastRoundAt'>
  state: Pick<KeeperState, 'keep' | 'saveDelegation' | 'delegateKey'>
  /** The owner key a file's manifest names (a verify link is enough), to refuse a delegation from someone else. */
  manifestOwner: (cap: Capability, signal: AbortSignal) => Promise<string | undefined>
  log: Logger
}

/** Options of `startKeeperHttp`. */
export interface KeeperHttpInit {
  host: string
  port: number
  /** @default KEEPER_HTTP_TIMEOUT_MS */
  timeoutMs?: number
  /** @default MAX_KEEP_BODY_BYTES */
  maxBodyBytes?: number
}

/** A refusal with its HTTP status; the body is `{error, code, message}`. */
class HttpRefusal extends Error {
  readonly status: number
  readonly code: string
  readonly errorName: string
  constructor (status: number, code: string, message: string, errorName = 'BadRequest') {
    super(message)
    this.status = status
    this.code = code
    this.errorName = errorName
  }
}

const CORS = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'GET, POST, OPTIONS',
  'access-control-allow-headers': 'content-type',
  'access-control-max-age': '600'
}
const OWNER_ROUTES = new Set(['/key', '/keep', '/files'])

/** Serves the API until the returned `close()`; resolves once listening, with its `http://host:port` URL. */
export async function startKeeperHttp (c: KeeperHttpComponents, init: KeeperHttpInit): Promise<{ url: string, server: Server, close: () => Promise<void> }> {
  const timeoutMs = init.timeoutMs ?? KEEPER_HTTP_TIMEOUT_MS
  const maxBody = init.maxBodyBytes ?? MAX_KEEP_BODY_BYTES
  const server = createServer((req, res) => {
    const signal = AbortSignal.timeout(timeoutMs)
    handle(c, req, res, { signal, maxBody }).catch((err: unknown) => {
      const r = asRefusal(err, signal)
      if (r.status >= 500) c.log.warn('keeper http request failed', { path: req.url, err })
      json(res, r.status, { error: r.errorName, code: r.code, message: r.message }, OWNER_ROUTES.has(path(req)))
    })
  })
  // Small requests only: a slow or idle client is cut rather than held.
  server.requestTimeout = timeoutMs
  server.headersTimeout = Math.min(timeoutMs, 5_000)
  server.maxHeadersCount = 50
  await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(init.port, init.host, resolve) })
  const a = server.address() as AddressInfo
  const host = a.family === 'IPv6' ? `[${a.address}]` : a.address
  return {
    url: `http://${host}:${a.port}`,
    server,
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>(resolve => { server.close(() => { resolve() }) })
    }
  }
}

function path (req: IncomingMessage): string {
  return (req.url ?? '/').split('?')[0]!
}

async function handle (c: KeeperHttpComponents, req: IncomingMessage, res: ServerResponse, o: { signal: AbortSignal, maxBody: number }): Promise<void> {
  const p = path(req)
  if (req.method === 'OPTIONS' && OWNER_ROUTES.has(p)) { res.writeHead(204, CORS); res.end(); return }
  if (p === '/keep') {
    if (req.method !== 'POST') throw new HttpRefusal(405, 'METHOD', 'POST a link to /keep')
    const body = await readBody(req, o.maxBody, o.signal)
    json(res, 200, await keep(c, body, o.signal), true)
    return
  }
  if (req.method !== 'GET') throw new HttpRefusal(405, 'METHOD', 'method not allowed')
  switch (p) {
    case '/metrics':
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' })
      res.end(c.keeper.metrics.render())
      return
    case '/health': {
      const s = c.keeper.metrics.snapshot()
      json(res, 200, { status: 'ok', files: s.files, rounds: s.rounds, lastRoundAt: c.keeper.lastRoundAt ?? null, segments: s.segments }, false)
      return
    }
    case '/key':
      json(res, 200, { key: (await c.state.delegateKey()).publicKey }, true)
      return
    case '/files':
      json(res, 200, { files: c.keeper.files(), lastRoundAt: c.keeper.lastRoundAt ?? null }, true)
      return
    default:
      throw new HttpRefusal(404, 'NOT_FOUND', 'not found')
  }
}

/** What `POST /keep` answers: the file's entry, as `GET /files` will show it. */
export interface KeepAnswer {
  manifestId: string
  /** False when the keeper already kept the link (a delegation given now still replaces the old one). */
  added: boolean
  /** The file as the keeper last saw it; absent until its first round. */
  file?: KeptFileStatus
  key: 'delegated' | 'keeper'
  delegationExpiresAt?: number
}

/**
 * Checks and keeps one link: a read or verify link, and optionally the owner's delegation to this
 * keeper's key, for this file (or `any`), unexpired, signed by the owner its manifest names.
 */
async function keep (c: KeeperHttpComponents, body: unknown, signal: AbortSignal): Promise<KeepAnswer> {
  const o = (typeof body === 'object' && body !== null && !Array.isArray(body) ? body : undefined) as Record<string, unknown> | undefined
  if (o === undefined || typeof o.link !== 'string') throw new HttpRefusal(400, 'BAD_REQUEST', 'the body must be {"link": "…", "delegation"?: {…}}')
  let cap: Capability
  try {
    cap = parseCapability(o.link)
  } catch (err) {
    throw new HttpRefusal(400, 'INVALID_CAPABILITY', (err as Error).message, 'CapabilityError')
  }
  let delegation: Delegation | undefined
  if (o.delegation !== undefined && o.delegation !== null) {
    const me = (await c.state.delegateKey()).publicKey
    delegation = await checkDelegation(o.delegation, { delegate: me, manifestId: cap.manifestId })
    // The owner a delegation names must be the file's: its claims are what repairs and renewals touch.
    const owner = await c.manifestOwner(cap, signal)
    if (owner !== delegation.owner) throw new DelegationError('wrong-owner', 'The delegation is not from the owner this file\'s manifest names')
  }
  const { added } = await c.state.keep(o.link)
  if (delegation !== undefined) await c.state.saveDelegation(cap.manifestId, delegation)
  c.log.info('keeping', { manifestId: cap.manifestId, added, delegated: delegation !== undefined })
  c.keeper.wake()
  const file = c.keeper.files().find(f => f.manifestId === cap.manifestId)
  return {
    manifestId: cap.manifestId,
    added,
    ...(file !== undefined ? { file } : {}),
    key: delegation !== undefined ? 'delegated' : 'keeper',
    ...(delegation !== undefined ? { delegationExpiresAt: delegation.expiresAt } : {})
  }
}

/** The request body as JSON, at most `max` bytes, before `signal`. */
async function readBody (req: IncomingMessage, max: number, signal: AbortSignal): Promise<unknown> {
  const declared = Number(req.headers['content-length'] ?? 0)
  if (declared > max) throw new HttpRefusal(413, 'TOO_LARGE', `the body is limited to ${max} bytes`)
  const chunks: Buffer[] = []
  let n = 0
  const onAbort = (): void => { req.destroy() }
  signal.addEventListener('abort', onAbort, { once: true })
  try {
    for await (const chunk of req) {
      n += (chunk as Buffer).byteLength
      if (n > max) throw new HttpRefusal(413, 'TOO_LARGE', `the body is limited to ${max} bytes`)
      chunks.push(chunk as Buffer)
    }
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
  if (signal.aborted) throw new HttpRefusal(408, 'TIMEOUT', 'the request took too long')
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'))
  } catch {
    throw new HttpRefusal(400, 'BAD_REQUEST', 'the body is not JSON')
  }
}

function asRefusal (err: unknown, signal: AbortSignal): HttpRefusal {
  if (err instanceof HttpRefusal) return err
  if (err instanceof DelegationError) return new HttpRefusal(403, err.code, err.message, err.name)
  if (err instanceof CapabilityError) return new HttpRefusal(400, err.code, err.message, err.name)
  if (err instanceof RangeError) return new HttpRefusal(507, 'FULL', err.message, 'RangeError')
  if (signal.aborted) return new HttpRefusal(408, 'TIMEOUT', 'the request took too long')
  const e = err as { name?: string, code?: string, message?: string }
  return new HttpRefusal(502, e.code ?? 'INTERNAL', `the file's manifest could not be checked: ${e.message ?? 'error'}`.slice(0, 300), e.name ?? 'Error')
}

function json (res: ServerResponse, status: number, body: unknown, cors: boolean): void {
  if (res.headersSent) { res.destroy(); return }
  res.writeHead(status, { 'content-type': 'application/json', ...(cors ? CORS : {}) })
  res.end(JSON.stringify(body) + '\n')
}
