// Which code the launcher runs for a file command: the bundle in dist-cli/ (scripts/build-cli.ts)
// when it is fresh, else the TypeScript sources. Fresh means every source file listed in its
// stamp still has the size and mtime it had at build time: an edit, a checkout or an `npm ci`
// since then sends the command back to the sources, which are always right, only slower to load.
// Plain JavaScript and node:fs only, so that deciding costs about a millisecond.
import { readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'

/** Commands the bundle serves. Grid, farmer, relay and start run from source (they spawn it). */
export const BUNDLED_COMMANDS = new Set(['put', 'get', 'stat', 'check', 'link', 'rm', 'repair', 'renew', 'ls'])

/**
 * The bundle's entry (a path) if `dir` holds a bundle built from the sources under `root` as they
 * are now, else undefined; `why` receives the reason it is not used.
 */
export function freshBundle (root, dir = join(root, 'dist-cli'), why = () => {}) {
  let stamp
  try {
    stamp = JSON.parse(readFileSync(join(dir, 'stamp.json'), 'utf8'))
  } catch {
    why('no bundle (npm run build:cli makes one)')
    return undefined
  }
  if (!Array.isArray(stamp.files) || stamp.files.length === 0) {
    why('the bundle stamp lists no sources')
    return undefined
  }
  for (const f of stamp.files) {
    if (typeof f?.path !== 'string' || typeof f.size !== 'number' || typeof f.mtimeMs !== 'number') {
      why('the bundle stamp is malformed')
      return undefined
    }
    let s
    try {
      s = statSync(join(root, f.path))
    } catch {
      why(`${f.path} is gone`)
      return undefined
    }
    if (s.size !== f.size || s.mtimeMs !== f.mtimeMs) {
      why(`${f.path} changed since the bundle was built`)
      return undefined
    }
  }
  return join(dir, 'shardfarm.js')
}
