/**
 * Manifests an interrupted publish left behind. Every sealing of a manifest has a fresh nonce and
 * so a new id; a publish stopped after storing some copies, and resumed, publishes another. The
 * earlier copies name no link, but they carry the owner's key: they are found (any farmer of the
 * directory that holds one) and removed with signed deletes.
 */
import type { AbortOptions } from '../../core/errors.ts'
import type { OwnerKey } from '../../core/owner-key.ts'
import type { GridPorts } from '../ports.ts'
import { deleteCopies } from './delete-copies.ts'
import { discoverHolders } from './holder-lookup.ts'

/** Removes every copy of the manifests `ids`; returns the copies whose farmer did not confirm. */
export async function removeStrayManifests (ports: GridPorts, ids: readonly string[], owner: OwnerKey,
  options: AbortOptions = {}): Promise<Array<{ id: string, peer: string }>> {
  if (ids.length === 0) return []
  const { found, farmers } = await discoverHolders(ports, ids, options)
  const byId = new Map(farmers.map(f => [f.peerId, f]))
  const copies = [...found].flatMap(([id, peers]) => peers.map(peer => ({ id, peer })))
  return (await deleteCopies(ports.transport, copies, peer => byId.get(peer)!, owner, options)).left
}
