import { describe, expect, it } from 'vitest'
import { formatDuration } from './format.ts'
import { placementRows } from './placement-rows.ts'

describe('formatDuration', () => {
  it('says seconds, minutes and hours the way people read them', () => {
    expect([0, 44.6, 60, 200, 3600, 3900].map(formatDuration)).toEqual(['0 s', '45 s', '1 min', '3 min 20 s', '1 h', '1 h 5 min'])
    expect(formatDuration(-3)).toBe('0 s')
  })
})

describe('placementRows', () => {
  it('counts fragments per region, full and light farmers apart, most first', () => {
    const farmers = [
      { peerId: 'a', region: 'eu-west', kind: 'full' }, { peerId: 'b', region: 'eu-west', kind: 'light' },
      { peerId: 'c', region: 'us-east', kind: 'full' }
    ]
    // Two segments of three fragments; one holder ('z') the directory no longer lists.
    const rows = placementRows([[['a'], ['b'], ['c']], [['a'], ['a'], ['z']]], farmers)
    expect(rows).toEqual([
      { region: 'eu-west', fragments: 4, full: 1, light: 1 },
      { region: 'us-east', fragments: 1, full: 1, light: 0 },
      { region: 'unknown', fragments: 1, full: 1, light: 0 }
    ])
  })
})
