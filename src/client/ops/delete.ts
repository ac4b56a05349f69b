/**
 * `shardfarm rm` and the app's Delete: signed deletes of every copy of a file's fragments and manifest.
 */
import type { Capability } from '../../core/capability.ts'
import type { AbortOptions } from '../../core/errors.ts'
import type { OwnerKey } from '../../core/owner-key.ts'
import { fetchManifest } from '../blocks/open-manifest.ts'
import { discoverHolders } from '../blocks/holder-lookup.ts'
import type { GridPorts } from '../ports.ts'

/**
 * Sends a signed delete for every fragment of the file and every copy of its manifest: those the
 * manifest lists, those in `copies` (where repairs put some), and any the directory's farmers say
 * they hold. Returns how many were removed and how many could not be (a farmer down); the manifest
 * stays until every fragment is gone, so running it again later finishes.
 */
export async function deleteFile (ports: GridPorts, cap: Capability, owner: OwnerKey,
  options: AbortOptions & { copies?: ReadonlyArray<{ id: string, peer: string }> } = {}): Promise<{ deleted: number, failed: number }> {
  const { manifest, resolve } = await fetchManifest(ports, cap, options)
  const jobs = new Map<string, { id: string, h: string }>()
  const add = (id: string, h: string): void => { jobs.set(`${id}@${h}`, { id, h }) }
  manifest.segments.forEach(seg => seg.fragments.forEach((id, i) => { for (const h of seg.holders[i] ?? []) add(id, h) }))
  for (const h of cap.holders) add(cap.manifestId, h)
  // The copies repairs placed (the owner kept where): a farmer that is offline now counts as failed.
  for (const c of options.copies ?? []) add(c.id, c.peer)
  // And any other copy the directory's farmers say they hold.
  const { found } = await discoverHolders(ports, [...manifest.segments.flatMap(seg => seg.fragments), cap.manifestId], options)
  for (const [id, peers] of found) for (const h of peers) add(id, h)
  let deleted = 0
  let failed = 0
  const run = async (list: Array<{ id: string, h: string }>): Promise<void> => {
    for (const { id, h } of list) {
      try {
        await ports.transport.delete(resolve(h), id, owner, options)
        deleted++
      } catch (err) {
        // A farmer that answers that it has no such fragment (it lost it, or an earlier rm took it)
        // leaves nothing to remove there.
        if ((err as { code?: string }).code !== 'NOT_FOUND') failed++
      }
    }
  }
  // Fragments first; the manifest only once they are all gone, so that running rm again after a
  // farmer was down can still read which fragments to remove.
  const all = [...jobs.values()]
  await run(all.filter(j => j.id !== cap.manifestId))
  if (failed === 0) await run(all.filter(j => j.id === cap.manifestId))
  return { deleted, failed }
}
