/**
 * `shardfarm rm` and the app's Delete: signed deletes of every copy of a file's fragments and manifest.
 */
import type { Capability } from '../../core/capability.ts'
import type { AbortOptions } from '../../core/errors.ts'
import type { OwnerKey } from '../../core/owner-key.ts'
import { fetchManifest } from '../blocks/open-manifest.ts'
import { deleteCopies, type Copy } from '../blocks/delete-copies.ts'
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
  const copies = new Map<string, Copy>()
  const add = (id: string, peer: string): void => { copies.set(`${id}@${peer}`, { id, peer }) }
  manifest.segments.forEach(seg => seg.fragments.forEach((id, i) => { for (const h of seg.holders[i] ?? []) add(id, h) }))
  for (const h of cap.holders) add(cap.manifestId, h)
  // The copies repairs placed (the owner kept where): a farmer that is offline now counts as failed.
  for (const c of options.copies ?? []) add(c.id, c.peer)
  // And any other copy the directory's farmers say they hold.
  const { found } = await discoverHolders(ports, [...manifest.segments.flatMap(seg => seg.fragments), cap.manifestId], options)
  for (const [id, peers] of found) for (const h of peers) add(id, h)
  // Fragments first; the manifest only once they are all gone, so that running rm again after a
  // farmer was down can still read which fragments to remove.
  const all = [...copies.values()]
  const fragments = await deleteCopies(ports.transport, all.filter(c => c.id !== cap.manifestId), resolve, owner, options)
  if (fragments.left.length > 0) return { deleted: fragments.deleted, failed: fragments.left.length }
  const manifests = await deleteCopies(ports.transport, all.filter(c => c.id === cap.manifestId), resolve, owner, options)
  return { deleted: fragments.deleted + manifests.deleted, failed: manifests.left.length }
}
