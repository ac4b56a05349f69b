import { describe, expect, it } from 'vitest'
import { isSecureAddr, servedFromPrivateNetwork } from './secure-addr.ts'

const ID = '12D3KooWGRYZDHBembyGJQqQ6WgLqJWYNjnECJwGBnCg8Vda5Bhy'
const RELAY = '12D3KooWLRPJAA5o6Fr1FkTmtTR8Rwc8MLH2uRoaEtzLVuG8ba1S'

describe('isSecureAddr: what a page served over HTTPS may dial', () => {
  it('takes wss, /tls/ws and /tls/sni/NAME/ws, with a name or an address', () => {
    expect(isSecureAddr(`/dns4/farm.example.org/tcp/443/wss/p2p/${ID}`)).toBe(true)
    expect(isSecureAddr(`/dns4/farm.example.org/tcp/443/tls/ws/p2p/${ID}`)).toBe(true)
    expect(isSecureAddr(`/ip4/10.0.0.5/tcp/443/tls/sni/farm.example.org/ws/p2p/${ID}`)).toBe(true)
    expect(isSecureAddr(`/ip4/127.0.0.1/tcp/4001/tls/ws`)).toBe(true)
  })

  it('refuses plain ws, other transports and text that is not a multiaddr', () => {
    expect(isSecureAddr(`/ip4/127.0.0.1/tcp/4001/ws/p2p/${ID}`)).toBe(false)
    expect(isSecureAddr(`/ip4/127.0.0.1/tcp/4001/p2p/${ID}`)).toBe(false)
    expect(isSecureAddr('not a multiaddr')).toBe(false)
  })

  it('judges a light farmer by the relay hop the page opens', () => {
    expect(isSecureAddr(`/dns4/relay.example.org/tcp/443/tls/ws/p2p/${RELAY}/p2p-circuit/webrtc/p2p/${ID}`)).toBe(true)
    expect(isSecureAddr(`/ip4/127.0.0.1/tcp/4001/ws/p2p/${RELAY}/p2p-circuit/webrtc/p2p/${ID}`)).toBe(false)
  })
})

describe('servedFromPrivateNetwork: a page that may dial private addresses', () => {
  it('is true for loopback and private origins, the LAN a grid and its app may share', () => {
    for (const h of ['localhost', 'app.localhost', '127.0.0.1', '10.77.9.2', '172.16.0.1', '172.31.255.254', '192.168.1.5', '169.254.3.4', '[::1]', '[fd12:3456::1]', 'fe80::1']) {
      expect(servedFromPrivateNetwork(h), h).toBe(true)
    }
  })

  it('is false for public addresses, names and nonsense', () => {
    for (const h of ['8.8.8.8', '172.32.0.1', '172.15.0.1', '192.169.0.1', '11.0.0.1', '2001:db8::1', 'shardfarm.test', 'example.org', '', '10.0.0.256', '1.2.3']) {
      expect(servedFromPrivateNetwork(h), h).toBe(false)
    }
  })
})
