import type { AbortOptions } from '../../core/errors.ts'
import type { Farmer, GridPorts } from '../ports.ts'
import { askTwice } from './fragment-health.ts'

/** Farmers asked at once by `discoverHolders`. */
const DISCOVERY_CONCURRENCY = 16

/**
 * Which farmers of the directory hold which of `ids`: every listed farmer is asked (HAS, in
 * batches; once more if that fails), at most DISCOVERY_CONCURRENCY at a time. Fragments and
 * manifests are named by their hash, so a copy anywhere is as good as one where the manifest says:
 * this is how downloads find fragments `repair` put on other farmers, and how `rm` finds copies.
 * `answered` holds the farmers that answered (those that did not are neither holders nor, for
 * `repair`, places to put anything). `listed`: the directory's list, when the caller asked for it
 * already (a failed list is an empty one).
 */
export async function discoverHolders (ports: GridPorts, ids: readonly string[],
  options: AbortOptions & { listed?: Promise<Farmer[]> } = {}): Promise<{ found: Map<string, string[]>, answered: Set<string>, farmers: Farmer[] }> {
  const found = new Map<string, string[]>()
  const answered = new Set<string>()
  if (ids.length === 0) return { found, answered, farmers: [] }
  const farmers = await (options.listed ?? ports.directory.list(options)).catch(() => [])
  const asked = [...ids]
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < farmers.length) {
      const f = farmers[next++]!
      const answer = await askTwice(ports.transport, f, asked, options)
      if (answer === undefined) continue
      answered.add(f.peerId)
      ids.forEach((id, i) => { if (answer[i] === true) found.set(id, [...(found.get(id) ?? []), f.peerId]) })
    }
  }
  await Promise.all(Array.from({ length: Math.min(DISCOVERY_CONCURRENCY, farmers.length) }, worker))
  return { found, answered, farmers }
}
