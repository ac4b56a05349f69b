/**
 * Merkle trees over a fragment's bytes, for proofs of storage: the fragment is cut into 1 KiB
 * leaves (`LEAF_BYTES`; the last may be shorter, never empty), and a farmer proves it still holds
 * the fragment by sending a few leaves the auditor picked at random, each with the sibling hashes
 * up to the root the uploader computed (the root travels in the manifest).
 *
 * Hashing is domain-separated so that no leaf can pass for an inner node and the other way round:
 *   leaf = SHA-256(0x00 ‖ leaf bytes)        node = SHA-256(0x01 ‖ child 0 ‖ … ‖ child j−1)
 * An inner node has up to `TREE_ARITY` (16) children: level l + 1 groups level l's hashes 16 at a
 * time, in order. A last group of one hash is promoted unchanged to the level above (it is not
 * hashed alone, so no tree can be given an extra level that hashes the same); any other group,
 * 2–16 hashes, becomes one node. The shape follows from the fragment's size alone, so a verifier
 * knows, for each index, how many siblings its path carries at each level and where the node sits
 * among them: a path of any other length is refused.
 *
 * Why 16 and not 2: building costs one hash call per node, and with node:crypto a call costs
 * ~1.5 µs whatever its few hundred bytes, so the 1023 inner nodes of a binary tree over a 1 MiB
 * fragment took 1.2 ms where 16-wide takes 69 nodes and 0.1 ms (0.07 at 32-wide), beside 1.6 ms for
 * the 1024 leaves. The price is in proofs: 15 siblings per full level instead of 1, 48 hashes for a
 * leaf of a 16 MiB fragment instead of 14 (77 at 32-wide). Figures: docs/performance.md.
 *
 * Everything here is synchronous. A fragment of 16 MiB is 16 384 leaf hashes and 1 093 node
 * hashes, and one awaited WebCrypto digest per hash costs far more than the hashing itself. The
 * default engine is `@noble/hashes` (pure JS, runs in browsers and workers: 14 ms per MiB of
 * leaves); a Node process installs `node:crypto` with `useMerkleSha256` (see
 * `src/client/adapters/hash.node.ts`), about 8× faster per leaf.
 */
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js'
import { ShardfarmError } from './errors.ts'
import { fromHex, toHex } from './hash.ts'

/** Bytes of one leaf; the last leaf of a fragment may be shorter. */
export const LEAF_BYTES = 1024
/** Bytes of one hash in a path. */
export const HASH_BYTES = 32
/** Most children of one inner node. */
export const TREE_ARITY = 16

const LEAF_PREFIX = 0x00
const NODE_PREFIX = 0x01

/**
 * A synchronous SHA-256 for trees. The tree reads the 32 bytes it returns before its next call, so
 * an engine may hand back the same buffer every time (allocating one per hash is what costs most).
 */
export type MerkleSha256 = (bytes: Uint8Array) => Uint8Array

let engine: MerkleSha256 = nobleSha256

/** Makes this module hash with `fn`; `undefined` goes back to the pure-JS default. */
export function useMerkleSha256 (fn: MerkleSha256 | undefined): void {
  engine = fn ?? nobleSha256
}

/** An index, size or proof that cannot belong to the tree it is used with. */
export class MerkleInputError extends ShardfarmError {
  constructor (message: string, details: Record<string, unknown> = {}) {
    super('MerkleInputError', 'BAD_MERKLE_INPUT', message, details)
  }
}

/** A tree built once, to answer many proofs. */
export interface MerkleTree {
  /** Bytes of the fragment. */
  readonly size: number
  /** Number of leaves: `leafCount(size)`. */
  readonly leafCount: number
  /**
   * Level 0 holds the leaf hashes, the last level the root; each level is its hashes back to back,
   * and hash i of level l + 1 is the parent of hashes 16·i … 16·i + 15 of level l.
   */
  readonly levels: readonly Uint8Array[]
  /** The root, lowercase hex. */
  readonly root: string
  /** The bytes of leaf `index` when this tree can prove it, else undefined. */
  leaf: (index: number) => Uint8Array | undefined
}

/** One proven leaf: its index, its bytes and the sibling hashes from the leaf up. */
export interface LeafProof {
  index: number
  leaf: Uint8Array
  /**
   * Sibling hashes (32 bytes each), level by level from the leaf up; at each level, the other
   * members of the node's group in their order (the node's own place left out), none where the
   * node was promoted. `pathLength` says how many.
   */
  path: Uint8Array[]
}

/** Leaves of a fragment of `size` bytes (at least 1). */
export function leafCount (size: number): number {
  if (!Number.isSafeInteger(size) || size < 1) throw new MerkleInputError('A fragment has at least one byte', { size })
  return Math.ceil(size / LEAF_BYTES)
}

/** Bytes of leaf `index` in a fragment of `size` bytes. */
export function leafLength (size: number, index: number): number {
  const n = leafCount(size)
  if (!Number.isSafeInteger(index) || index < 0 || index >= n) throw new MerkleInputError('Leaf index out of range', { index, leaves: n })
  return index === n - 1 ? size - index * LEAF_BYTES : LEAF_BYTES
}

/**
 * Sibling hashes in the path of leaf `index` of a fragment of `size` bytes: Σ over the levels
 * below the root of (size of the node's group − 1).
 */
export function pathLength (size: number, index: number): number {
  leafLength(size, index) // range check
  let hashes = 0
  for (let n = leafCount(size), i = index; n > 1; n = Math.ceil(n / TREE_ARITY), i = Math.floor(i / TREE_ARITY)) {
    hashes += groupSize(n, i) - 1
  }
  return hashes
}

/** The longest path of any leaf of a fragment of `size` bytes (leaf 0's: every group it is in is the first, so full). */
export function maxPathLength (size: number): number {
  return pathLength(size, 0)
}

/** Members of the group that node `i` of a level of `n` nodes belongs to. */
function groupSize (n: number, i: number): number {
  const start = i - i % TREE_ARITY
  return Math.min(TREE_ARITY, n - start)
}

// Scratch buffers: hashing is synchronous, so one of each is enough for the whole module.
const leafScratch = new Uint8Array(1 + LEAF_BYTES)
const nodeScratch = new Uint8Array(1 + TREE_ARITY * HASH_BYTES)
leafScratch[0] = LEAF_PREFIX
nodeScratch[0] = NODE_PREFIX

/** SHA-256(0x00 ‖ leaf). */
export function hashLeaf (leaf: Uint8Array): Uint8Array {
  leafScratch.set(leaf, 1)
  return engine(leafScratch.subarray(0, 1 + leaf.byteLength))
}

/** SHA-256(0x01 ‖ children), the children (2–16 hashes) back to back. */
function hashNode (children: Uint8Array): Uint8Array {
  nodeScratch.set(children, 1)
  return engine(nodeScratch.subarray(0, 1 + children.byteLength))
}

/**
 * Hashes leaves as bytes arrive in chunks of any size, keeping the bytes of the leaves named in
 * `keep`: a farmer streams a fragment from its store through it and holds 32 bytes per KiB plus
 * the kept leaves, never the fragment.
 */
export class MerkleBuilder {
  readonly size: number
  readonly #leaves: Uint8Array
  readonly #keep: ReadonlySet<number>
  readonly #kept = new Map<number, Uint8Array>()
  readonly #pending = new Uint8Array(LEAF_BYTES)
  #pendingBytes = 0
  #received = 0
  #next = 0

  constructor (size: number, keep: Iterable<number> = []) {
    this.size = size
    this.#leaves = new Uint8Array(leafCount(size) * HASH_BYTES)
    this.#keep = new Set(keep)
  }

  /** Adds the next bytes of the fragment. */
  update (chunk: Uint8Array): void {
    if (this.#received + chunk.byteLength > this.size) {
      throw new MerkleInputError('More bytes than the declared size', { size: this.size })
    }
    this.#received += chunk.byteLength
    let off = 0
    if (this.#pendingBytes > 0) {
      const n = Math.min(chunk.byteLength, LEAF_BYTES - this.#pendingBytes)
      this.#pending.set(chunk.subarray(0, n), this.#pendingBytes)
      this.#pendingBytes += n
      off = n
      if (this.#pendingBytes === LEAF_BYTES) {
        this.#addLeaf(this.#pending)
        this.#pendingBytes = 0
      }
    }
    for (; chunk.byteLength - off >= LEAF_BYTES; off += LEAF_BYTES) this.#addLeaf(chunk.subarray(off, off + LEAF_BYTES))
    if (off < chunk.byteLength) {
      this.#pending.set(chunk.subarray(off), 0)
      this.#pendingBytes = chunk.byteLength - off
    }
  }

  #addLeaf (leaf: Uint8Array): void {
    const i = this.#next++
    this.#leaves.set(hashLeaf(leaf), i * HASH_BYTES)
    if (this.#keep.has(i)) this.#kept.set(i, leaf.slice())
  }

  /** The tree, once every byte arrived; it proves the leaves named in `keep`. */
  finish (): MerkleTree {
    if (this.#received !== this.size) {
      throw new MerkleInputError('Fewer bytes than the declared size', { size: this.size, received: this.#received })
    }
    if (this.#pendingBytes > 0) this.#addLeaf(this.#pending.subarray(0, this.#pendingBytes))
    this.#pendingBytes = 0
    const kept = this.#kept
    return treeFromLeaves(this.size, this.#leaves, i => kept.get(i))
  }
}

function treeFromLeaves (size: number, leafHashes: Uint8Array, leaf: (i: number) => Uint8Array | undefined): MerkleTree {
  const levels = [leafHashes]
  let level = leafHashes
  const group = TREE_ARITY * HASH_BYTES
  while (level.byteLength > HASH_BYTES) {
    const up = new Uint8Array(Math.ceil(level.byteLength / group) * HASH_BYTES)
    for (let off = 0, j = 0; off < level.byteLength; off += group, j += HASH_BYTES) {
      const children = level.subarray(off, off + group)
      up.set(children.byteLength === HASH_BYTES ? children : hashNode(children), j)
    }
    levels.push(up)
    level = up
  }
  return { size, leafCount: leafHashes.byteLength / HASH_BYTES, levels, root: toHex(level), leaf }
}

/** The tree of `bytes` (at least one byte); it proves any leaf, reading them from `bytes`. */
export function buildTree (bytes: Uint8Array): MerkleTree {
  const n = leafCount(bytes.byteLength)
  const leaves = new Uint8Array(n * HASH_BYTES)
  for (let i = 0; i < n; i++) leaves.set(hashLeaf(bytes.subarray(i * LEAF_BYTES, (i + 1) * LEAF_BYTES)), i * HASH_BYTES)
  return treeFromLeaves(bytes.byteLength, leaves, i => i >= 0 && i < n ? bytes.subarray(i * LEAF_BYTES, (i + 1) * LEAF_BYTES) : undefined)
}

/** The root (lowercase hex) of the tree over `bytes`. */
export function merkleRoot (bytes: Uint8Array): string {
  return buildTree(bytes).root
}

/** Proofs of leaves `indices` of `source` (a tree, or the bytes to build one from). */
export function proveLeaves (source: MerkleTree | Uint8Array, indices: readonly number[]): LeafProof[] {
  const tree = source instanceof Uint8Array ? buildTree(source) : source
  return indices.map(index => {
    leafLength(tree.size, index) // range check
    const leaf = tree.leaf(index)
    if (leaf === undefined) throw new MerkleInputError('This tree does not hold that leaf', { index })
    const path: Uint8Array[] = []
    let i = index
    for (let l = 0; l < tree.levels.length - 1; l++) {
      const level = tree.levels[l]!
      const start = i - i % TREE_ARITY
      const end = start + groupSize(level.byteLength / HASH_BYTES, i)
      for (let s = start; s < end; s++) if (s !== i) path.push(level.slice(s * HASH_BYTES, (s + 1) * HASH_BYTES))
      i = Math.floor(i / TREE_ARITY)
    }
    return { index, leaf: leaf.slice(), path }
  })
}

/**
 * True when every proof shows a leaf of the fragment of `size` bytes whose tree has root `rootHex`:
 * the index is in range, the leaf has exactly the length its index implies, the path has exactly
 * the siblings the tree's shape implies, and hashing up gives the root. Never throws.
 */
export function verifyLeaves (rootHex: string, size: number, proofs: readonly LeafProof[]): boolean {
  let root: Uint8Array
  let n: number
  try {
    root = fromHex(rootHex)
    n = leafCount(size)
  } catch {
    return false
  }
  if (root.byteLength !== HASH_BYTES) return false
  return proofs.every(p => verifyOne(root, size, n, p))
}

function verifyOne (root: Uint8Array, size: number, leaves: number, p: LeafProof): boolean {
  if (!Number.isSafeInteger(p.index) || p.index < 0 || p.index >= leaves) return false
  if (!(p.leaf instanceof Uint8Array) || p.leaf.byteLength !== leafLength(size, p.index)) return false
  if (!Array.isArray(p.path) || p.path.length !== pathLength(size, p.index)) return false
  for (let h = 0; h < p.path.length; h++) { // a loop, not `every`, which skips the holes of a sparse array
    const s: unknown = p.path[h]
    if (!(s instanceof Uint8Array) || s.byteLength !== HASH_BYTES) return false
  }
  let hash = hashLeaf(p.leaf)
  let i = p.index
  let used = 0
  const children = new Uint8Array(TREE_ARITY * HASH_BYTES)
  for (let n = leaves; n > 1; n = Math.ceil(n / TREE_ARITY), i = Math.floor(i / TREE_ARITY)) {
    const g = groupSize(n, i)
    if (g === 1) continue // promoted unchanged
    const own = i % TREE_ARITY
    for (let c = 0; c < g; c++) children.set(c === own ? hash : p.path[used++]!, c * HASH_BYTES)
    hash = hashNode(children.subarray(0, g * HASH_BYTES))
  }
  return used === p.path.length && equal(hash, root)
}

function equal (a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false
  let d = 0
  for (let i = 0; i < a.byteLength; i++) d |= a[i]! ^ b[i]!
  return d === 0
}
