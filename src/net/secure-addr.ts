/**
 * What a page served over HTTPS may dial. A secure page may not open `ws://` (mixed content), so
 * there only `wss` addresses count: `/wss`, `/tls/ws` (with or without `/sni/NAME`), and light
 * farmers' `/p2p-circuit` addresses through a relay reached over one of those. Pure.
 */
import { multiaddr } from '@multiformats/multiaddr'

/** True when a secure page can dial `addr` (see the module comment); false for anything unparsable. */
export function isSecureAddr (addr: string): boolean {
  let names: string[]
  try { names = multiaddr(addr).getComponents().map(c => c.name) } catch { return false }
  const circuit = names.indexOf('p2p-circuit')
  const hop = circuit === -1 ? names : names.slice(0, circuit) // the first hop is what the page opens
  const ws = hop.lastIndexOf('ws')
  if (hop.includes('wss')) return true
  // `/tls/ws`, or `/tls/sni/NAME/ws` (the name is the `sni` component's value)
  return (ws >= 1 && hop[ws - 1] === 'tls') || (ws >= 2 && hop[ws - 1] === 'sni' && hop[ws - 2] === 'tls')
}

/** True when this realm is a page served over HTTPS (or any secure context that is not loopback). */
export function pageIsSecure (): boolean {
  const loc = (globalThis as { location?: { protocol?: string } }).location
  return loc?.protocol === 'https:'
}

/**
 * True when a page served from `hostname` is itself on a loopback or private network: localhost, or
 * an IP literal in 127/8, 10/8, 172.16/12, 192.168/16, 169.254/16, ::1, fc00::/7 or fe80::/10. Such
 * a page may dial farmers and relays at private addresses (a grid on a home or office LAN, served
 * from one of its machines); a page from a public origin may not, as libp2p's browser default says,
 * and as browsers' private network access rules say of public pages. Names other than localhost are
 * not resolved here, so they count as public.
 */
export function servedFromPrivateNetwork (hostname: string): boolean {
  const h = hostname.toLowerCase().replace(/^\[|\]$/g, '')
  if (h === 'localhost' || h.endsWith('.localhost')) return true
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(h)
  if (v4 !== null) {
    const [a, b] = [Number(v4[1]), Number(v4[2])]
    if (v4.slice(1).some(o => Number(o) > 255)) return false
    return a === 127 || a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 169 && b === 254)
  }
  if (!h.includes(':')) return false
  if (h === '::1') return true
  const first = parseInt(h.split(':')[0] === '' ? '0' : h.split(':')[0]!, 16)
  return (first & 0xfe00) === 0xfc00 || (first & 0xffc0) === 0xfe80
}
