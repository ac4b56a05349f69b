/**
 * `shardfarm check LINK` proves a file's health: every holder is challenged (an audit against the
 * Merkle roots of the verify manifest), and each segment is reported with its fragments proven,
 * claimed but not proven, and missing. A verify link is enough: it reads nothing of the file.
 * `shardfarm link --verify LINK` derives the verify link from a read link.
 */
import { formatCapability, parseCapability, verifyCapability } from '../core/capability.ts'
import { EXIT } from '../core/error-catalogue.ts'
import { checkFile, segmentCheck } from '../client/ops/stat.ts'
import { UsageError } from './args.ts'
import { args, withSession } from './files.ts'

export const CHECK_USAGE = `shardfarm check LINK [--relay ADDR] [--json]
    challenges every holder of the file (a read or a verify link) to prove its fragments; exit 0
    when every segment has at least k + 1 proven, 6 when some has only k, 3 when some has fewer
shardfarm link --verify LINK
    prints the verify link of a read link: it lets its holder check and repair the file, never read it`

export async function checkCommand (argv: string[]): Promise<void> {
  const { values, positionals } = args(argv, { relay: { type: 'string' }, json: { type: 'boolean' } })
  if (positionals.length !== 1) throw new UsageError('check takes exactly one LINK')
  const cap = parseCapability(positionals[0]!)
  await withSession(values.relay, async (s, signal) => {
    const { manifest, segments } = await checkFile(s, cap, { signal })
    const { k, m } = manifest.policy
    const counts = segments.map(seg => segmentCheck(seg, manifest.policy))
    const healthy = counts.every(c => c.proven >= k + 1)
    process.exitCode = counts.some(c => c.proven < k) ? EXIT.UNAVAILABLE : healthy ? EXIT.DONE : EXIT.AT_RISK
    if (values.json === true) {
      process.stdout.write(JSON.stringify({ healthy, policy: manifest.policy.name, segments: counts }) + '\n')
      return
    }
    const proven = counts.reduce((n, c) => n + c.proven, 0)
    process.stdout.write(`${segments.length} segments, policy ${manifest.policy.name} (${k}+${m}): ${proven} of ${counts.length * (k + m)} fragments proven\n`)
    for (const [i, c] of counts.entries()) {
      process.stdout.write(`  segment ${String(i).padStart(4)}  proven ${c.proven}/${c.n}  claimed ${c.claimed}  missing ${c.missing}  ${c.status}\n`)
    }
  })
}

export async function linkCommand (argv: string[]): Promise<void> {
  const { values, positionals } = args(argv, { verify: { type: 'boolean' } })
  if (positionals.length !== 1 || values.verify !== true) throw new UsageError('link takes --verify and exactly one LINK')
  const cap = parseCapability(positionals[0]!)
  if (cap.kind === 'read' && cap.version !== 2) {
    throw new UsageError('this file was stored before verify links worked (an r1 link): check and repair it with its read link')
  }
  process.stdout.write(formatCapability(await verifyCapability(cap)) + '\n')
}
