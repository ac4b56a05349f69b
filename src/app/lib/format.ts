/** Human sizes: 0 B, 1.5 KiB, 20.0 MiB, 1.25 GiB. */
export function formatBytes (n: number): string {
  if (n < 1024) return `${n} B`
  const units = ['KiB', 'MiB', 'GiB', 'TiB']
  let v = n / 1024; let u = 0
  while (v >= 1024 && u < units.length - 1) { v /= 1024; u++ }
  return `${v.toFixed(v >= 100 ? 0 : v >= 10 ? 1 : 2)} ${units[u]}`
}

/** The web link for a `shardfarm:` capability on this app's origin. */
export function shareUrl (link: string): string {
  return `${location.origin}/#${link}`
}

/** Human durations: 45 s, 3 min 20 s, 1 h 5 min. */
export function formatDuration (seconds: number): string {
  const s = Math.max(0, Math.round(seconds))
  if (s < 60) return `${s} s`
  if (s < 3600) return `${Math.floor(s / 60)} min${s % 60 === 0 ? '' : ` ${s % 60} s`}`
  return `${Math.floor(s / 3600)} h${Math.floor((s % 3600) / 60) === 0 ? '' : ` ${Math.floor((s % 3600) / 60)} min`}`
}

/** A multiaddr as people can read it: `host:port · …abcdef` (the peer id's last 6), or the address itself. */
export function relayName (addr: string): string {
  const where = /\/(?:ip4|ip6|dns4|dns6|dns)\/([^/]+)\/tcp\/(\d+)/.exec(addr)
  const peer = /\/p2p\/([^/]+)$/.exec(addr)?.[1]
  if (where === null) return addr
  const host = addr.includes('/ip6/') ? `[${where[1]}]` : where[1]
  return `${host}:${where[2]}${peer !== undefined ? ` · …${peer.slice(-6)}` : ''}`
}
