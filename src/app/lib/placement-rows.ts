/** Where a finished upload's fragments went: per region, on how many full and light farmers. */
export interface PlacementRow { region: string, fragments: number, full: number, light: number }

/**
 * Fragments per region, most first, from a manifest's holders (`[segment][fragment]` → peer ids)
 * and the directory's farmers. A holder the directory no longer lists counts under "unknown".
 */
export function placementRows (holders: string[][][], farmers: ReadonlyArray<{ peerId: string, region: string, kind: string }>): PlacementRow[] {
  const byPeer = new Map(farmers.map(f => [f.peerId, f]))
  const rows = new Map<string, { fragments: number, full: Set<string>, light: Set<string> }>()
  for (const seg of holders) {
    for (const frag of seg) {
      for (const peer of frag) {
        const f = byPeer.get(peer)
        const region = f?.region ?? 'unknown'
        const row = rows.get(region) ?? { fragments: 0, full: new Set<string>(), light: new Set<string>() }
        row.fragments++
        if (f?.kind === 'light') row.light.add(peer)
        else row.full.add(peer)
        rows.set(region, row)
      }
    }
  }
  return [...rows].sort((a, b) => b[1].fragments - a[1].fragments).map(([region, r]) => ({ region, fragments: r.fragments, full: r.full.size, light: r.light.size }))
}
