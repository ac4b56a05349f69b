/**
 * Signed deletes of copies (a fragment or manifest id on a farmer), with the owner's key: the one
 * way `rm` and an upload's clean-up remove what they stored.
 */
import type { AbortOptions } from '../../core/errors.ts'
import type { OwnerKey } from '../../core/owner-key.ts'
import type { FarmerRef, FragmentTransport } from '../ports.ts'

/** One copy: an id on a farmer. */
export interface Copy { id: string, peer: string }

/**
 * Deletes `copies`, one after another. A farmer that answers that it has no such copy (it lost
 * it, or an earlier delete took it) leaves nothing to remove there. Returns how many were removed
 * and the copies whose farmer did not confirm (down, or refusing).
 */
export async function deleteCopies (transport: Pick<FragmentTransport, 'delete'>, copies: Iterable<Copy>, refOf: (peer: string) => FarmerRef,
  owner: OwnerKey, options: AbortOptions = {}): Promise<{ deleted: number, left: Copy[] }> {
  let deleted = 0
  const left: Copy[] = []
  for (const c of copies) {
    try {
      await transport.delete(refOf(c.peer), c.id, owner, options)
      deleted++
    } catch (err) {
      if ((err as { code?: string }).code !== 'NOT_FOUND') left.push(c)
    }
  }
  return { deleted, left }
}
