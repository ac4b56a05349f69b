/**
 * What the `KeyValueStore` adapters share: the order of keys and the copy of values. IndexedDB
 * orders array keys itself; the memory and disk adapters sort with `compareKeys` so that all three
 * list keys in the same order.
 */
import type { StorageKey } from '../../core/key-value-store.ts'

/**
 * IndexedDB's order of array keys: segment by segment (by UTF-16 code unit, which for the ASCII
 * segments keys may hold is byte order), a key before the longer keys it is a prefix of.
 */
export function compareKeys (a: StorageKey, b: StorageKey): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    const x = a[i]!
    const y = b[i]!
    if (x !== y) return x < y ? -1 : 1
  }
  return a.length - b.length
}

/**
 * A fresh, plain `Uint8Array` holding the bytes of `value` (a view, a Node `Buffer`, …), so that
 * neither side's later writes reach the other. Called before any `await`: a caller may reuse its
 * buffer as soon as `save` has returned its promise.
 */
export function copyBytes (value: Uint8Array): Uint8Array {
  if (!(value instanceof Uint8Array)) throw new TypeError('A stored value must be a Uint8Array')
  // Not `value.slice()`: on a Buffer that is a view of the same memory.
  return new Uint8Array(value)
}
