import { describe, expect, it } from 'vitest'
import { formatDuration, relayName } from './format.ts'
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

describe('relayName', () => {
  it('says host:port and a short peer id, not the whole multiaddr', () => {
    expect(relayName('/ip4/127.0.0.1/tcp/40123/ws/p2p/12D3KooWRm3AETi5BEEX9wWh7bDZ8r6bXhW5H2PsWk6BXcx4kWQe')).toBe('127.0.0.1:40123 · …x4kWQe')
    expect(relayName('/dns4/relay.example/tcp/443/wss/p2p/12D3KooWabcdef')).toBe('relay.example:443 · …abcdef')
    expect(relayName('/ip6/::1/tcp/9/ws')).toBe('[::1]:9')
    expect(relayName('not an address')).toBe('not an address')
  })
})
