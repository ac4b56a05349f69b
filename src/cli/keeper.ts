/**
 * `shardfarm keeper`: runs a keeper (`src/keeper/`) until SIGINT/SIGTERM, over this machine's owner
 * index and the links given with `shardfarm keep`. stdout gets one line (its HTTP address with
 * `--http`, else its data folder); logs (JSON lines) go to stderr.
 * `shardfarm keep LINK` adds a link to a keeper's list; `shardfarm keep --list` shows the list;
 * `shardfarm keep LINK --keeper URL` hands it to a running keeper's HTTP API with a delegation.
 */
import { join, resolve } from 'node:path'
import { formatCapability, parseCapability } from '../core/capability.ts'
import { signDelegation } from '../core/delegation.ts'
import { fromBase64, ownerKeyFromSeed } from '../core/owner-key.ts'
import { fetchVerifyManifest } from '../client/blocks/open-manifest.ts'
import { OwnerIndex } from '../client/owner-index.ts'
import { clientHome, nodeKeyValueStore, openNodeClient } from '../client/session.node.ts'
import { startKeeperHttp } from '../keeper/http.ts'
import { Keeper } from '../keeper/keeper.ts'
import { KeeperState } from '../keeper/state.ts'
import { parseCount, parseHostPort, UsageError } from './args.ts'
import { args } from './files.ts'
import { printAddress, stopOnSignals } from './lifecycle.ts'
import { createLogger } from './log.ts'
import { resolveRelay } from './relay-address.ts'
import { terminalSafe } from './safe-name.ts'

export const KEEPER_USAGE = `shardfarm keeper [--relay ADDR]… [--data DIR] [--http HOST:PORT] [--interval S] [--grace S]
                 [--audits-per-hour N] [--repair-mbps N] [--lease-days N]
    keeps files healthy on its own: the files put from this machine, and the links given with
    \`shardfarm keep\`. Every --interval seconds (600) it audits a sample of their copies (least
    recently audited first, at most --audits-per-hour, 3600), repairs a file when a segment falls
    to k + m - ceil(m/2) proven fragments (the durability model's threshold: live at 5 of 6, archive
    at 12 of 14) or its manifest to 3 of 5 copies, counts a silent farmer's copies for --grace
    seconds (3600) before replacing them (and again when it comes back), renews leases when a third
    of --lease-days (30) is left, and moves at most --repair-mbps megabits/s (unlimited) for repairs.
    State lives in --data (default: keeper/ in the data folder); --http serves /metrics, /health
    and the owners' API: GET /key, POST /keep, GET /files (docs/keeper.md).
    A file kept with its owner's delegation is repaired and renewed under the owner's key, so the
    owner's \`rm\` removes the repaired copies too; from a link alone, with the keeper's own key
    (those copies expire once the keeper stops renewing them).
shardfarm keep LINK [--keeper-data DIR]
    adds a read or verify link to the keeper's list (read at its next round)
shardfarm keep LINK --keeper URL [--days N]
    hands the link to the keeper at URL (its --http address); when the file was put from this
    machine, with a delegation signed by its owner key for N days (365)
shardfarm keep --list [--json] [--keeper-data DIR]`

/** The keeper's data folder: `dir`, or `keeper/` in the client's data folder. */
function keeperHome (dir: string | undefined): string {
  return dir !== undefined ? resolve(dir) : join(clientHome(), 'keeper')
}

/** A positive number of seconds (fractions allowed, for tests) as milliseconds. */
function seconds (flag: string, s: string | undefined, fallback: number): number {
  if (s === undefined) return fallback
  const n = Number(s)
  if (!/^\d+(\.\d+)?$/.test(s) || !(n > 0) || n > 366 * 24 * 3600) throw new UsageError(`--${flag} must be a number of seconds > 0, got ${JSON.stringify(s)}`)
  return Math.round(n * 1000)
}

export async function keeperCommand (argv: string[]): Promise<void> {
  const { values, positionals } = args(argv, {
    relay: { type: 'string' }, data: { type: 'string' }, http: { type: 'string' }, interval: { type: 'string' }, grace: { type: 'string' },
    'audits-per-hour': { type: 'string' }, 'repair-mbps': { type: 'string' }, 'lease-days': { type: 'string' }
  })
  if (positionals.length !== 0) throw new UsageError('keeper takes no LINK: add links with `shardfarm keep LINK`')
  const str = (k: string): string | undefined => values[k] as string | undefined
  const intervalMs = seconds('interval', str('interval'), 600_000)
  const graceMs = seconds('grace', str('grace'), 3_600_000)
  const auditsPerHour = str('audits-per-hour') !== undefined ? parseCount('audits-per-hour', str('audits-per-hour')!, 1) : 3600
  const mbps = str('repair-mbps')
  if (mbps !== undefined && !(/^\d+(\.\d+)?$/.test(mbps) && Number(mbps) > 0)) throw new UsageError(`--repair-mbps must be a number > 0, got ${JSON.stringify(mbps)}`)
  const leaseMs = str('lease-days') !== undefined ? parseCount('lease-days', str('lease-days')!, 1) * 24 * 3600_000 : undefined
  const http = str('http') !== undefined ? parseHostPort('http', str('http')!) : undefined
  const home = keeperHome(str('data'))

  const log = createLogger('keeper')
  const session = await openNodeClient(await resolveRelay(str('relay')))
  const index = new OwnerIndex(nodeKeyValueStore())
  const state = new KeeperState(nodeKeyValueStore(home))
  const keeper = new Keeper({
    ports: session,
    state,
    ownedFiles: async () => await index.list(),
    addOwnedCopies: async (id, copies) => await index.addCopies(id, copies)
  }, {
    intervalMs, graceMs, auditsPerHour, log,
    ...(mbps !== undefined ? { repairBytesPerSecond: Number(mbps) * 1e6 / 8 } : {}),
    ...(leaseMs !== undefined ? { leaseMs } : {})
  })

  const api = http === undefined
    ? undefined
    : await startKeeperHttp({
      keeper,
      state,
      manifestOwner: async (cap, signal) => (await fetchVerifyManifest(session, cap, { signal })).manifest.owner,
      log
    }, http)
  const url = api?.url

  stopOnSignals(async () => {
    await keeper.stop()
    await api?.close()
    await session.close()
  }, log)
  keeper.start()
  log.info('keeper running', { data: home, http: url, intervalMs, graceMs, auditsPerHour, repairMbps: mbps ?? null })
  printAddress(url ?? home)
}

export async function keepCommand (argv: string[]): Promise<void> {
  const { values, positionals } = args(argv, {
    'keeper-data': { type: 'string' }, list: { type: 'boolean' }, json: { type: 'boolean' }, keeper: { type: 'string' }, days: { type: 'string' }
  })
  if (values.keeper !== undefined) {
    if (positionals.length !== 1 || values.list === true) throw new UsageError('keep --keeper URL takes exactly one LINK')
    await keepRemote(positionals[0]!, values.keeper as string, values.days as string | undefined, values.json === true)
    return
  }
  const state = new KeeperState(nodeKeyValueStore(keeperHome(values['keeper-data'] as string | undefined)))
  if (values.list === true) {
    if (positionals.length !== 0) throw new UsageError('keep --list takes no LINK')
    const kept = await state.kept()
    if (values.json === true) {
      process.stdout.write(JSON.stringify(kept.map(k => ({ ...k, manifestId: parseCapability(k.link).manifestId }))) + '\n')
      return
    }
    for (const k of kept) process.stdout.write(`${new Date(k.addedAt).toISOString().slice(0, 19)}  ${terminalSafe(k.link)}\n`)
    return
  }
  if (positionals.length !== 1) throw new UsageError('keep takes exactly one LINK (or --list)')
  const { cap, added } = await state.keep(positionals[0]!).catch((err: Error) => {
    throw err.name === 'CapabilityError' || err.name === 'RangeError' ? new UsageError(err.message) : err
  })
  process.stderr.write(`${added ? 'kept' : 'already kept'}: ${formatCapability(cap).slice(0, 40)}… (the keeper looks at it in its next round)\n`)
}

/** Deadline of each request to a remote keeper. */
const REMOTE_TIMEOUT_MS = 30_000

/**
 * `shardfarm keep LINK --keeper URL`: asks the keeper for its key, signs a delegation to it with the
 * file's owner key from this machine's owner index (for this file only), and hands both over. A
 * file not put from here goes without one: the keeper then repairs with its own key.
 */
async function keepRemote (link: string, keeperUrl: string, daysFlag: string | undefined, asJson: boolean): Promise<void> {
  let base: URL
  try {
    base = new URL(keeperUrl)
  } catch {
    throw new UsageError(`--keeper must be the keeper's http address, got ${JSON.stringify(keeperUrl)}`)
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new UsageError('--keeper must be an http:// or https:// address')
  const days = daysFlag !== undefined ? parseCount('days', daysFlag, 1) : 365
  if (days > 400) throw new UsageError('--days is at most 400 (farmers refuse longer delegations)')
  const cap = (() => {
    try { return parseCapability(link) } catch (err) { throw new UsageError((err as Error).message) }
  })()
  const call = async (path: string, init: RequestInit = {}): Promise<unknown> => {
    const res = await fetch(new URL(path, base), { ...init, signal: AbortSignal.timeout(REMOTE_TIMEOUT_MS) })
    const text = await res.text()
    let body: unknown
    try { body = JSON.parse(text) } catch { body = undefined }
    if (!res.ok) {
      const msg = (body as { message?: string } | undefined)?.message ?? text.slice(0, 200)
      throw new UsageError(`the keeper refused (${res.status}): ${terminalSafe(msg)}`)
    }
    return body
  }
  const owned = (await new OwnerIndex(nodeKeyValueStore()).list()).find(f => f.manifestId === cap.manifestId)
  let delegation
  if (owned !== undefined) {
    const key = (await call('/key') as { key?: unknown }).key
    if (typeof key !== 'string') throw new UsageError('the keeper did not name its key')
    const owner = await ownerKeyFromSeed(fromBase64(owned.ownerSeed))
    delegation = await signDelegation(owner, key, cap.manifestId, Date.now() + days * 24 * 3600_000)
  } else {
    process.stderr.write('this file was not put from here: the keeper will repair it with its own key (the owner\'s rm will not reach its copies)\n')
  }
  const answer = await call('/keep', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ link, ...(delegation !== undefined ? { delegation } : {}) })
  }) as { added?: boolean, key?: string }
  if (asJson) { process.stdout.write(JSON.stringify(answer) + '\n'); return }
  process.stderr.write(`${answer.added === true ? 'kept' : 'already kept'} by ${base.origin}${delegation !== undefined ? ', with a delegation from the owner key' : ''}\n`)
}
