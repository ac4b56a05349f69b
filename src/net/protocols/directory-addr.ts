/**
 * Which farmer addresses the directory lists: only those a Shardfarm client can dial, in a form
 * whose JSON costs no more bytes than its text. Before this, any multiaddr passed, and control
 * characters in a `/dns4/` name grew sixfold when escaped: a few hundred such records pushed a
 * client's query past its frame limit, and with it every put and get.
 *
 * An address is one of
 *   HOST /tcp/PORT (/ws | /wss | /tls[/sni/NAME]/ws)                                  a full farmer
 *   HOST /tcp/PORT (/ws | /wss | /tls/ws) /p2p/RELAY /p2p-circuit[/webrtc]             a light farmer
 * followed by `/p2p/<the record's own peer id>` (added when missing), where HOST is `/ip4/IP`,
 * `/ip6/IP`, or `/dns4|/dns6|/dns/NAME` with NAME a letters-digits-hyphens host name (labels of at
 * most 63, at most 253 in all).
 *
 * Two kinds of misfit are told apart on purpose:
 * - refused (the whole record): text that is not printable ASCII or is too long, text that is not
 *   a multiaddr, a host name that is not LDH, a final `/p2p/` naming another peer. No honest libp2p
 *   node makes these; the farmer hears a `BAD_REQUEST` naming the address.
 * - dropped (the address only): a well-formed multiaddr of a transport clients do not speak (plain
 *   TCP, QUIC, WebRTC-direct, a Unix socket, port 0). libp2p may add such addresses to a farmer's
 *   list as it evolves; refusing the record for them would silently take the farmer off the grid.
 */
import { multiaddr } from '@multiformats/multiaddr'
import type { Multiaddr } from '@multiformats/multiaddr'

/** Most addresses one record may carry (counted before any is dropped). */
export const MAX_ADDRS = 8
/** Longest address, in bytes (all ASCII, so characters too), before and after canonical form. */
export const MAX_ADDR_BYTES = 256

/** What `checkAddr` decided. */
export type AddrVerdict =
  | { ok: true, addr: string }
  | { ok: false, drop: true, reason: string }
  | { ok: false, drop: false, reason: string }

const PRINTABLE = /^[\x21-\x7e]*$/
const LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/

/** True for an LDH host name: labels of letters, digits and inner hyphens, ≤ 63 each, ≤ 253 in all. */
export function isHostName (name: string): boolean {
  return name.length >= 1 && name.length <= 253 && name.split('.').every(l => LABEL.test(l))
}

/** Classifies one claimed address of the farmer `peerId` (see the module note). */
export function checkAddr (a: unknown, peerId: string): AddrVerdict {
  const refuse = (reason: string): AddrVerdict => ({ ok: false, drop: false, reason })
  const drop = (reason: string): AddrVerdict => ({ ok: false, drop: true, reason })
  if (typeof a !== 'string') return refuse('address is not a string')
  if (a.length > MAX_ADDR_BYTES) return refuse(`address is longer than ${MAX_ADDR_BYTES} bytes`)
  if (!PRINTABLE.test(a)) return refuse('address has characters outside printable ASCII')
  let ma: Multiaddr
  try { ma = multiaddr(a) } catch { return refuse('address is not a multiaddr') }
  const parts = ma.getComponents()
  for (const c of parts) {
    if (['dns', 'dns4', 'dns6', 'dnsaddr', 'sni'].includes(c.name) && !isHostName(c.value ?? '')) return refuse(`/${c.name} name is not an LDH host name`)
  }
  const last = parts.at(-1)
  if (last?.name === 'p2p' && last.value !== peerId) return refuse('address names another peer')
  const body = last?.name === 'p2p' ? parts.slice(0, -1) : parts
  if (!dialable(body.map(c => [c.name, c.value ?? '']))) return drop('not a transport clients dial')
  const out = `${multiaddr(body).toString()}/p2p/${peerId}`
  if (out.length > MAX_ADDR_BYTES || !PRINTABLE.test(out)) return refuse(`address is longer than ${MAX_ADDR_BYTES} bytes`)
  return { ok: true, addr: out }
}

/** The grammar of the module note, over (name, value) pairs without the final `/p2p/`. */
function dialable (p: Array<[string, string]>): boolean {
  let i = 0
  const at = (name: string): boolean => p[i]?.[0] === name
  if (!['ip4', 'ip6', 'dns4', 'dns6', 'dns'].includes(p[i]?.[0] ?? '')) return false
  i++
  if (!at('tcp') || !/^[1-9]\d{0,4}$/.test(p[i]![1]) || Number(p[i]![1]) > 65535) return false
  i++
  if (at('ws') || at('wss')) i++
  else if (at('tls')) {
    i++
    if (at('sni')) i++
    if (!at('ws')) return false
    i++
  } else return false
  if (i === p.length) return true
  if (!at('p2p')) return false
  i++
  if (!at('p2p-circuit')) return false
  i++
  if (at('webrtc')) i++
  return i === p.length
}

/**
 * The network a connection comes from, for per-network budgets: the /24 of an IPv4 address, the
 * /48 of an IPv6 one (an IPv4-mapped IPv6 address counts as IPv4), else the first component.
 */
export function subnetOf (remote: Multiaddr): string {
  const first = remote.getComponents()[0]
  const value = first?.value ?? ''
  if (first?.name === 'ip4') return `${value.split('.').slice(0, 3).join('.')}.0/24`
  if (first?.name === 'ip6') {
    const h = expand6(value)
    if (h.slice(0, 6).join(':') === '0:0:0:0:0:ffff') {
      const [x, y] = [parseInt(h[6]!, 16), parseInt(h[7]!, 16)]
      return `${x >> 8}.${x & 255}.${y >> 8}.0/24`
    }
    return `${h.slice(0, 3).join(':')}::/48`
  }
  return first?.name ?? 'unknown'
}

/** The eight hextets of an IPv6 address, `::` expanded (a trailing dotted quad counts as two). */
function expand6 (ip: string): string[] {
  const [head = '', tail] = ip.split('::')
  const split = (s: string): string[] => s === '' ? [] : s.split(':').flatMap(h => {
    if (!h.includes('.')) return [h]
    const [a = 0, b = 0, c = 0, d = 0] = h.split('.').map(Number)
    return [(a * 256 + b).toString(16), (c * 256 + d).toString(16)]
  })
  const a = split(head)
  const b = tail === undefined ? [] : split(tail)
  return [...a, ...Array<string>(Math.max(0, 8 - a.length - b.length)).fill('0'), ...b].map(h => h.toLowerCase().replace(/^0+(?=.)/, ''))
}
