/**
 * `shardfarm stat` and the app's Check health: which of a file's fragments are still reachable.
 */
import type { Capability } from '../../core/capability.ts'
import type { AbortOptions } from '../../core/errors.ts'
import type { Manifest } from '../../core/manifest.ts'
import { fetchManifest } from '../blocks/open-manifest.ts'
import { segmentsHealth, withCopies, type SegmentHealth } from '../blocks/fragment-health.ts'
import { discoverHolders } from '../blocks/holder-lookup.ts'
import type { GridPorts } from '../ports.ts'

export interface FileHealth { manifest: Manifest, segments: SegmentHealth[] }

/**
 * Asks every holder of the file, once each, which of its fragments it holds (a farmer that does not
 * answer holds none). Fragments none of their listed holders has are then looked for among the
 * directory's farmers (`repair` puts copies there); a healthy file costs no such lookup.
 */
export async function fileHealth (ports: GridPorts, cap: Capability, options: AbortOptions = {}): Promise<FileHealth> {
  const { manifest, resolve } = await fetchManifest(ports, cap, options)
  const listed = await segmentsHealth(ports.transport, manifest.segments, manifest.policy, resolve, options)
  const missing = listed.flatMap(s => s.fragments.filter(f => f.reachable.length === 0).map(f => f.id))
  if (missing.length === 0) return { manifest, segments: listed }
  const { found } = await discoverHolders(ports, missing, options)
  return { manifest, segments: withCopies(listed, found, manifest.policy) }
}
