import { expect, it } from 'vitest'
import { multiaddr } from '@multiformats/multiaddr'
import { addrKey, hostKey, InboundLimiter } from './connection-limits.ts'

it('counts IPv4 hosts one by one and IPv6 hosts by their /64', () => {
  expect(hostKey('127.0.0.1')).toBe('127.0.0.1')
  expect(hostKey('::ffff:10.0.0.7')).toBe('10.0.0.7')
  expect(hostKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64')
  expect(hostKey('2001:0db8:0001:0002:ffff:ffff:ffff:ffff')).toBe('2001:db8:1:2::/64')
  expect(hostKey('2001:db8::1')).toBe('2001:db8:0:0::/64')
  expect(hostKey('::1')).toBe('0:0:0:0::/64')
  expect(hostKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64')
  expect(hostKey(undefined)).toBeUndefined()
  expect(addrKey(multiaddr('/ip4/127.0.0.1/tcp/4001/ws'))).toBe('127.0.0.1')
  expect(addrKey(multiaddr('/ip4/127.0.0.1/tcp/4001/ws/p2p/12D3KooWGRUVh3TqKyY2uYyF6sBzDjrUVnFZeiuPBDy9aRvNqK4C/p2p-circuit'))).toBeUndefined()
})

it('keeps pending connections of one host within its cap by aborting the oldest', async () => {
  const limiter = new InboundLimiter({ pendingPerIp: 2 })
  const aborted: number[] = []
  const conns = [0, 1, 2, 3].map(i => {
    const listeners: Array<() => void> = []
    return {
      remoteAddr: multiaddr('/ip4/10.0.0.1/tcp/1/ws'),
      addEventListener: (_: string, fn: () => void) => { listeners.push(fn) },
      abort: () => { aborted.push(i); listeners.forEach(fn => { fn() }) }
    }
  })
  for (const c of conns) expect(await limiter.gater.denyInboundConnection!(c as never)).toBe(false)
  expect(aborted).toEqual([0, 1])
  expect(limiter.stats().pending).toBe(2)
  // An upgraded one leaves the pending count.
  expect(await limiter.gater.denyInboundUpgradedConnection!(undefined as never, conns[3] as never)).toBe(false)
  expect(limiter.stats().pending).toBe(1)
})

it('refuses a relay reservation to a new peer of a host that already holds its share', async () => {
  const limiter = new InboundLimiter({ reservationsPerIp: 2 })
  const peer = (n: number): { n: number } => ({ n })
  const held = new Map<unknown, { addr: ReturnType<typeof multiaddr>, expiry: Date }>()
  const later = new Date(Date.now() + 60_000)
  held.set(peer(1), { addr: multiaddr('/ip4/10.0.0.1/tcp/1/ws'), expiry: later })
  held.set(peer(2), { addr: multiaddr('/ip4/10.0.0.1/tcp/2/ws'), expiry: later })
  held.set(peer(3), { addr: multiaddr('/ip4/10.0.0.2/tcp/3/ws'), expiry: later })
  const from: Record<number, string> = { 4: '10.0.0.1', 5: '10.0.0.2' }
  limiter.attach({
    addEventListener: () => {},
    getConnections: (p: { n: number }) => [{ remoteAddr: multiaddr(`/ip4/${from[p.n] ?? '10.0.0.1'}/tcp/9/ws`) }],
    services: { relay: { reservations: held } }
  } as never)
  expect(await limiter.gater.denyInboundRelayReservation!(peer(4) as never)).toBe(true) // 10.0.0.1 holds 2
  expect(await limiter.gater.denyInboundRelayReservation!(peer(5) as never)).toBe(false) // 10.0.0.2 holds 1
  const [first] = [...held.keys()]
  expect(await limiter.gater.denyInboundRelayReservation!(first as never)).toBe(false) // a refresh keeps its slot
})
