import { describe, expect, it } from 'vitest'
import { SortedIds } from './sorted-ids.ts'

describe('SortedIds', () => {
  it('reads in order from any point, through random adds and removes, as a sorted copy would', () => {
    const ids = new SortedIds()
    const ref = new Set<string>()
    let seed = 7
    const rand = (): number => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed / 2 ** 31 }
    for (let i = 0; i < 5_000; i++) {
      const id = `12D3Koo${Math.floor(rand() * 2_000).toString(36)}`
      if (rand() < 0.3) { ids.delete(id); ref.delete(id) } else { ids.add(id); ref.add(id) }
    }
    const sorted = [...ref].sort((a, b) => a < b ? -1 : a > b ? 1 : 0)
    expect(ids.size).toBe(sorted.length)
    expect([...ids.after(undefined)]).toEqual(sorted)
    for (const after of [sorted[0]!, sorted[100]!, `${sorted[100]!}0`, '', '~', sorted.at(-1)!]) {
      expect([...ids.after(after)]).toEqual(sorted.filter(x => x > after))
    }
  })
})
