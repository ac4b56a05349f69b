import { describe, expect, it } from 'vitest'
import { isSecureAddr } from './secure-addr.ts'

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
