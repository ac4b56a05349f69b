import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js'
import { describe, expect, it } from 'vitest'
import { toHex } from './hash.ts'
import { buildTree, LEAF_BYTES, maxPathLength, MerkleBuilder, merkleRoot, pathLength, proveLeaves, TREE_ARITY, useMerkleSha256, verifyLeaves } from './merkle.ts'
import type { LeafProof } from './merkle.ts'

/**
 * The reference: hash every leaf, then hash groups of up to 16 nodes level by level, promoting a
 * lone last node.
 */
async function referenceRoot (bytes: Uint8Array): Promise<string> {
  // WebCrypto, not the module's engine: an independent SHA-256.
  const h = async (...parts: Uint8Array[]): Promise<Uint8Array> => {
    const joined = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
    let off = 0
    for (const p of parts) { joined.set(p, off); off += p.length }
    return new Uint8Array(await crypto.subtle.digest('SHA-256', joined))
  }
  let level: Uint8Array[] = []
  for (let off = 0; off < bytes.length; off += LEAF_BYTES) level.push(await h(Uint8Array.of(0), bytes.subarray(off, off + LEAF_BYTES)))
  while (level.length > 1) {
    const up: Uint8Array[] = []
    for (let i = 0; i < level.length; i += 16) {
      const group = level.slice(i, i + 16)
      up.push(group.length > 1 ? await h(Uint8Array.of(1), ...group) : group[0]!)
    }
    level = up
  }
  return toHex(level[0]!)
}

function random (size: number): Uint8Array {
  const b = new Uint8Array(size)
  for (let off = 0; off < size; off += 65536) crypto.getRandomValues(b.subarray(off, Math.min(size, off + 65536)))
  return b
}

const KiB = 1024
// Leaf counts around the group size (16, 17: a lone last leaf promoted), two and three levels
// (256, 257: promoted twice, 4097), and the 1 MiB fragments of a default upload.
const SIZES = [1, 1023, KiB, KiB + 1, 2 * KiB, 3 * KiB, 5 * KiB + 7, 16 * KiB, 16 * KiB + 1, 17 * KiB, 33 * KiB - 5,
  256 * KiB, 256 * KiB + 1, 4096 * KiB + 3, 1 << 20, (1 << 20) + 1]

describe('merkle', () => {
  it('roots match a level-by-level reference for sizes from 1 byte to just over 1 MiB', async () => {
    for (const size of SIZES) {
      const bytes = random(size)
      expect(merkleRoot(bytes), `size ${size}`).toBe(await referenceRoot(bytes))
    }
  })

  it('hashes through an installed engine, to the same root', () => {
    const bytes = random(40 * 1024 + 3)
    const plain = merkleRoot(bytes)
    let calls = 0
    useMerkleSha256(b => { calls++; return nobleSha256(b) })
    try {
      expect(merkleRoot(bytes)).toBe(plain)
      expect(calls).toBe(41 + 3 + 1) // 41 leaves; 16 + 16 + 9 under 3 nodes; those 3 under the root
    } finally {
      useMerkleSha256(undefined)
    }
  })

  it('works with an engine that hands back the same buffer every time', () => {
    const bytes = random(7 * 1024 + 5)
    const plain = merkleRoot(bytes)
    const proofs = proveLeaves(bytes, [0, 3, 7])
    const out = new Uint8Array(32)
    useMerkleSha256(b => { out.set(nobleSha256(b)); return out })
    try {
      expect(merkleRoot(bytes)).toBe(plain)
      expect(verifyLeaves(plain, bytes.length, proofs)).toBe(true)
      expect(verifyLeaves(plain, bytes.length, proveLeaves(bytes, [6]))).toBe(true)
    } finally {
      useMerkleSha256(undefined)
    }
  })

  it('builds the same tree from chunks of any size, and proves only the leaves it kept', async () => {
    const bytes = random(11 * 1024 + 100)
    const reference = await referenceRoot(bytes)
    for (const chunk of [1, 100, 1024, 1500, 4096, bytes.length]) {
      const b = new MerkleBuilder(bytes.length, [0, 5, 11])
      for (let off = 0; off < bytes.length; off += chunk) b.update(bytes.subarray(off, off + chunk))
      const tree = b.finish()
      expect(tree.root).toBe(reference)
      const proofs = proveLeaves(tree, [11, 0, 5])
      expect(verifyLeaves(tree.root, bytes.length, proofs)).toBe(true)
      expect(proofs[0]!.leaf).toEqual(bytes.subarray(11 * 1024))
      expect(() => proveLeaves(tree, [3])).toThrow(expect.objectContaining({ name: 'MerkleInputError' }))
    }
  })

  it('verifies proofs of every leaf of full and partial groups, each path as long as the shape says', async () => {
    for (const size of [1, KiB, KiB + 1, 3 * KiB, 16 * KiB, 16 * KiB + 1, 18 * KiB, 257 * KiB, 300 * KiB + 9]) {
      const bytes = random(size)
      const tree = buildTree(bytes)
      const all = Array.from({ length: tree.leafCount }, (_, i) => i)
      const proofs = proveLeaves(tree, all)
      expect(verifyLeaves(await referenceRoot(bytes), size, proofs), `size ${size}`).toBe(true)
      for (const p of proofs) expect(p.path.length).toBe(pathLength(size, p.index))
    }
  })

  it('paths carry 15 siblings per full level: 48 hashes at most for 16 MiB, none for one leaf', () => {
    expect(TREE_ARITY).toBe(16)
    expect(maxPathLength(1)).toBe(0)
    expect(maxPathLength(16 * KiB)).toBe(15)
    expect(pathLength(257 * KiB, 256)).toBe(1) // promoted twice, then one sibling under the root
    expect(pathLength(257 * KiB, 0)).toBe(15 + 15 + 1)
    expect(maxPathLength(1 << 20)).toBe(15 + 15 + 3)
    expect(maxPathLength(16 << 20)).toBe(15 + 15 + 15 + 3)
  })

  describe('refuses a proof with any part tampered', () => {
    const size = 33 * KiB + 77 // 34 leaves: the last is short and in a partial group of 2
    const bytes = random(size)
    const tree = buildTree(bytes)
    const good = (): LeafProof[] => proveLeaves(tree, [2, 33])
    const ok = (proofs: LeafProof[], s = size, root = tree.root): boolean => verifyLeaves(root, s, proofs)

    it('accepts the untampered proof', () => { expect(ok(good())).toBe(true) })
    it('a flipped bit in the leaf', () => {
      const p = good(); p[0]!.leaf[100]! ^= 1
      expect(ok(p)).toBe(false)
    })
    it('a flipped bit in any sibling hash', () => {
      for (let h = 0; h < good()[0]!.path.length; h++) {
        const p = good(); p[0]!.path[h]![0]! ^= 0x80
        expect(ok(p), `hash ${h}`).toBe(false)
      }
    })
    it('siblings in another order', () => {
      const p = good(); p[0]!.path.reverse()
      expect(ok(p)).toBe(false)
      const q = good(); const [a, b] = [q[0]!.path[0]!, q[0]!.path[1]!]; q[0]!.path[0] = b; q[0]!.path[1] = a
      expect(ok(q)).toBe(false)
    })
    it('a wrong index (the leaf and path of another), with a path of the same length', () => {
      const p = good(); p[0]!.index = 3
      expect(p[0]!.path.length).toBe(pathLength(size, 3))
      expect(ok(p)).toBe(false)
      const q = good(); q[0]!.index = 18
      expect(q[0]!.path.length).toBe(pathLength(size, 18))
      expect(ok(q)).toBe(false)
      const r = good(); r[0]!.index = -1
      expect(ok(r)).toBe(false)
      const s = good(); s[1]!.index = 32 // the other leaf of the last group: same path length, full length leaf expected
      s[1]!.leaf = bytes.slice(32 * KiB, 33 * KiB)
      expect(ok(s)).toBe(false)
      expect(ok(good().map(x => ({ ...x, index: x.index + 34 })))).toBe(false)
    })
    it('a path one hash too short or too long, with a hole, or with a hash of the wrong length', () => {
      const p = good(); p[0]!.path.pop()
      expect(ok(p)).toBe(false)
      const q = good(); q[0]!.path.push(new Uint8Array(32))
      expect(ok(q)).toBe(false)
      const r = good(); r[0]!.path = Array.from({ length: r[0]!.path.length }) as Uint8Array[]
      expect(ok(r)).toBe(false)
      const holes = good(); holes[0]!.path = new Array<Uint8Array>(holes[0]!.path.length) // sparse: no element at all
      expect(ok(holes)).toBe(false)
      const t = good(); t[0]!.path[4] = t[0]!.path[4]!.subarray(0, 31)
      expect(ok(t)).toBe(false)
    })
    it('a short leaf where a full one belongs, and a full one in the short last place', () => {
      const p = good(); p[0]!.leaf = p[0]!.leaf.subarray(0, 1000)
      expect(ok(p)).toBe(false)
      const q = good(); q[1]!.leaf = new Uint8Array(LEAF_BYTES)
      expect(ok(q)).toBe(false)
      // The same leaves and paths against a size with the same leaf count: only the length tells.
      expect(ok(good(), size - 77 + 500)).toBe(false)
      expect(ok(good(), size - 77 + LEAF_BYTES)).toBe(false)
    })
    it('a path checked against another size or another root', () => {
      expect(ok(good(), size + 1024)).toBe(false) // 35 leaves: the last group has 3
      expect(ok(good(), size + 15 * 1024)).toBe(false) // 49 leaves: still 3 groups, sizes differ
      expect(ok(good(), 16 * 1024)).toBe(false)
      expect(ok(good(), 0)).toBe(false)
      expect(ok(good(), size, merkleRoot(random(size)))).toBe(false)
      expect(ok(good(), size, 'zz')).toBe(false)
    })
    it('a leaf hash offered as a leaf (domain separation)', () => {
      // Leaves whose concatenated hashes were offered as a "leaf" must not verify as the parent.
      for (const leaves of [2, 16]) {
        const t = buildTree(random(leaves * KiB))
        const forged: LeafProof = { index: 0, leaf: t.levels[0]!, path: [] }
        expect(verifyLeaves(t.root, leaves * 32, [forged])).toBe(false)
      }
    })
  })
})
