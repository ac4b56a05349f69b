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
