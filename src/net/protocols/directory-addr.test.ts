// Which farmer addresses the directory keeps, drops or refuses, and the networks announces are
// budgeted by.
import { describe, expect, it } from 'vitest'
import { multiaddr } from '@multiformats/multiaddr'
import { checkAddr, isHostName, MAX_ADDR_BYTES, subnetOf } from './directory-addr.ts'

const ID = '12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN'
const RELAY = '12D3KooWJWoaqZhDaoEFshF7Rh1bpY9ohihFhzcW6d69Lr2NASuq'

describe('directory addresses', () => {
  it('keeps the WebSocket and relayed WebRTC forms clients dial, ending in the farmer\'s own /p2p', () => {
    const kept: Array<[string, string]> = [
      ['/ip4/127.0.0.1/tcp/4001/ws', `/ip4/127.0.0.1/tcp/4001/ws/p2p/${ID}`],
      [`/ip6/0:0:0:0:0:0:0:1/tcp/443/wss/p2p/${ID}`, `/ip6/::1/tcp/443/wss/p2p/${ID}`],
      ['/dns4/farm-1.example.org/tcp/443/tls/ws', `/dns4/farm-1.example.org/tcp/443/tls/ws/p2p/${ID}`],
      ['/dns/x.example/tcp/443/tls/sni/x.example/ws', `/dns/x.example/tcp/443/tls/sni/x.example/ws/p2p/${ID}`],
      [`/ip4/10.0.0.1/tcp/9/ws/p2p/${RELAY}/p2p-circuit/webrtc/p2p/${ID}`, `/ip4/10.0.0.1/tcp/9/ws/p2p/${RELAY}/p2p-circuit/webrtc/p2p/${ID}`],
      [`/dns6/relay.example/tcp/9/wss/p2p/${RELAY}/p2p-circuit`, `/dns6/relay.example/tcp/9/wss/p2p/${RELAY}/p2p-circuit/p2p/${ID}`]
    ]
    for (const [a, out] of kept) expect(checkAddr(a, ID), a).toEqual({ ok: true, addr: out })
  })

  it('refuses text no honest node makes: control or non-ASCII characters, non-LDH names, another peer, overlength', () => {
    const refused = [
      '/dns4/a\u0001\u0002\u0003b/tcp/1/ws',
      '/dns4/caf\u00e9.example/tcp/1/ws',
      '/dns4/under_score.example/tcp/1/ws',
      '/dns4/-lead.example/tcp/1/ws',
      `/dns4/${'a'.repeat(64)}.example/tcp/1/ws`,
      `/dns/${Array.from({ length: 5 }, () => 'a'.repeat(60)).join('.')}/tcp/1/ws`,
      '/dns4/x.example/tcp/1/tls/sni/bad"name/ws',
      `/ip4/1.2.3.4/tcp/1/ws/p2p/${RELAY}`,
      `/ip4/1.2.3.4/tcp/1/ws/${'x'.repeat(MAX_ADDR_BYTES)}`,
      '/ip4/999.1.1.1/tcp/1/ws',
      'not a multiaddr',
      42
    ]
    for (const a of refused) expect(checkAddr(a, ID), String(a)).toMatchObject({ ok: false, drop: false })
    // The limit holds after the final /p2p/ is added too.
    const long = `/dns4/${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(60)}/tcp/1/ws`
    expect(long.length).toBeLessThanOrEqual(MAX_ADDR_BYTES)
    expect(checkAddr(long, ID)).toMatchObject({ ok: false, drop: false })
  })

  it('drops well-formed addresses of transports clients do not speak', () => {
    const dropped = [
      '/ip4/1.2.3.4/tcp/4001',
      '/ip4/1.2.3.4/udp/4001/quic-v1',
      '/ip4/1.2.3.4/udp/4001/webrtc-direct',
      '/ip4/1.2.3.4/tcp/0/ws',
      '/ip4/1.2.3.4/tcp/80/http',
      `/ip4/1.2.3.4/tcp/1/ws/p2p/${RELAY}/p2p-circuit/p2p/${RELAY}/p2p-circuit`
    ]
    for (const a of dropped) expect(checkAddr(a, ID), a).toMatchObject({ ok: false, drop: true })
  })

  it('checks host names label by label', () => {
    expect(isHostName(`${'a'.repeat(63)}.b`)).toBe(true)
    expect(isHostName('a..b')).toBe(false)
    expect(isHostName('a-.b')).toBe(false)
    expect(isHostName('')).toBe(false)
  })

  it('budgets announces by /24 for IPv4 (mapped ones too) and /48 for IPv6', () => {
    expect(subnetOf(multiaddr('/ip4/192.0.2.77/tcp/1/ws'))).toBe('192.0.2.0/24')
    expect(subnetOf(multiaddr('/ip6/::ffff:192.0.2.77/tcp/1/ws'))).toBe('192.0.2.0/24')
    expect(subnetOf(multiaddr('/ip6/2001:db8:aa:1::5/tcp/1'))).toBe('2001:db8:aa::/48')
    expect(subnetOf(multiaddr('/ip6/2001:db8:aa:2::9/tcp/1'))).toBe('2001:db8:aa::/48')
    expect(subnetOf(multiaddr('/ip6/::1/tcp/1'))).toBe('0:0:0::/48')
  })
})
