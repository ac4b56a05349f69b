/**
 * `shardfarm farmers [--relay ADDR]… [--json]`: the farmers of the grid as its directory lists
 * them, every known relay asked at once: peer id, region, tier, kind, free bytes, when first seen,
 * and which relays list it. A relay that does not answer is named on stderr; the command fails
 * (`OfflineError`) only when none answers. With `--json`, the last stdout line is one object
 * `{"farmers": [...], "relays": [...]}`.
 */
import { RelaySetDirectory } from '../client/adapters/relay-set.ts'
import { clientHome, learnedRelays } from '../client/session.node.ts'
import { OfflineError } from '../net/errors.ts'
import { createNodeLibp2p } from '../net/libp2p.node.ts'
import { parseFlags } from './args.ts'
import { resolveRelays } from './relay-address.ts'

export const FARMERS_USAGE = `shardfarm farmers [--relay ADDR]… [--json]
    lists the grid's farmers as its directory sees them (every relay asked; --relay is repeatable)`

/** How long each relay has to answer. */
const LIST_TIMEOUT_MS = 10_000

/** One farmer as `shardfarm farmers --json` prints it. */
export interface FarmerRow {
  peerId: string
  region: string
  tier: string
  kind: string
  free: number
  /** Epoch ms when a relay first saw it (the earliest relay's say), when the relay tells. */
  firstSeen?: number
  /** The relays that list it. */
  relays: string[]
  /** Where it is dialed, as the directory gives it. */
  addrs: string[]
}

/** Runs the farmers subcommand. */
export async function farmersCommand (argv: string[]): Promise<void> {
  const f = parseFlags(argv, { relay: { type: 'string', multiple: true }, json: { type: 'boolean' } })
  const given = await resolveRelays(f.relay)
  const libp2p = await createNodeLibp2p({ identify: false })
  try {
    const dir = new RelaySetDirectory(libp2p, given)
    dir.learn(await learnedRelays(clientHome(), given))
    const answers = await dir.listEach({ signal: AbortSignal.timeout(LIST_TIMEOUT_MS) })
    for (const a of answers) if (a.error !== undefined) process.stderr.write(`shardfarm farmers: relay ${a.relay} did not answer: ${a.error.message}\n`)
    const answered = answers.filter(a => a.farmers !== undefined)
    if (answered.length === 0) throw new OfflineError(`none of the ${answers.length} relays answered`)
    const rows = new Map<string, FarmerRow>()
    for (const a of answered) {
      for (const x of a.farmers!) {
        rows.set(x.peerId, {
          peerId: x.peerId, region: x.region, tier: x.tier, kind: x.kind, free: x.free,
          ...(dir.firstSeen.has(x.peerId) ? { firstSeen: dir.firstSeen.get(x.peerId)! } : {}),
          relays: dir.listedBy.get(x.peerId) ?? [a.relay],
          addrs: x.addrs
        })
      }
    }
    const farmers = [...rows.values()].sort((a, b) => a.region.localeCompare(b.region) || a.peerId.localeCompare(b.peerId))
    if (f.json === true) {
      process.stdout.write(JSON.stringify({ farmers, relays: answers.map(a => ({ relay: a.relay, answered: a.farmers !== undefined, farmers: a.farmers?.length ?? 0 })) }) + '\n')
      return
    }
    const names = new Map(answered.map((a, i) => [a.relay, `r${i + 1}`]))
    for (const [relay, name] of names) process.stdout.write(`${name} = ${relay}\n`)
    process.stdout.write(['peer id', 'region', 'tier', 'kind', 'free', 'first seen', 'relays'].join('\t') + '\n')
    for (const r of farmers) {
      const seen = r.firstSeen === undefined ? '-' : new Date(r.firstSeen).toISOString()
      process.stdout.write([r.peerId, r.region, r.tier, r.kind, String(r.free), seen, r.relays.map(x => names.get(x) ?? x).join(',')].join('\t') + '\n')
    }
    process.stdout.write(`${farmers.length} farmers, ${answered.length} of ${answers.length} relays answered\n`)
  } finally {
    await libp2p.stop()
  }
}
