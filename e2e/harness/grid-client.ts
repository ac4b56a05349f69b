// Browser harness for e2e/app-light-audit.spec.ts: the page's own client (the one the app runs)
// without the app around it, so a spec can put with a policy object and check a file the way
// `shardfarm check --json` does, against light farmers the CLI cannot reach (Node has no WebRTC
// here): the same `checkFile` and `segmentCheck`, over the page's libp2p node.
import { blobSource } from '../../src/client/adapters/blob-source.ts'
import { checkFile, segmentCheck } from '../../src/client/ops/stat.ts'
import type { SegmentCheck } from '../../src/client/ops/stat.ts'
import { UploadJob } from '../../src/client/ops/upload.ts'
import { ScoreBook } from '../../src/client/score-book.ts'
import type { ScoreEntry } from '../../src/client/score-book.ts'
import { browserJobStore, browserPorts, createBrowserCoder, relayDirectory, startBrowserGrid } from '../../src/client/session.browser.ts'
import type { BrowserGrid } from '../../src/client/session.browser.ts'
import { parseCapability } from '../../src/core/capability.ts'
import type { StoragePolicy } from '../../src/core/policy.ts'
import { MemoryKeyValueStore } from '../../src/stores/kv/memory.ts'

const grid: BrowserGrid = await startBrowserGrid()
const coder = createBrowserCoder()
const scores = await ScoreBook.open(new MemoryKeyValueStore())

function ports (relay: string): ReturnType<typeof browserPorts> {
  return browserPorts(grid, relayDirectory(grid, relay), coder, scores)
}

const gridClient = {
  /** Puts `size` random bytes under `policy`; resolves to the link, and each segment's fragment ids and their holders. */
  async put (relay: string, size: number, policy: StoragePolicy, shardSize: number): Promise<{ link: string, fragments: string[][], holders: string[][][] }> {
    const bytes = new Uint8Array(size)
    for (let i = 0; i < size; i += 65536) crypto.getRandomValues(bytes.subarray(i, Math.min(size, i + 65536)))
    const source = blobSource(new Blob([bytes]))
    const job = await UploadJob.open(browserJobStore(new MemoryKeyValueStore()), { size, policy, shardSize, name: 'audited.bin' })
    const r = await job.run(ports(relay), source, { signal: AbortSignal.timeout(120_000) })
    return { link: r.link, fragments: r.manifest.segments.map(s => s.fragments), holders: r.manifest.segments.map(s => s.holders) }
  },
  /** What `shardfarm check --json` prints per segment: fragments proven, claimed, missing. */
  async check (relay: string, link: string): Promise<SegmentCheck[]> {
    const { manifest, segments } = await checkFile(ports(relay), parseCapability(link), { signal: AbortSignal.timeout(120_000) })
    return segments.map(s => segmentCheck(s, manifest.policy))
  },
  /** This client's audit record of `peer`. */
  score (peer: string): ScoreEntry | undefined {
    return scores.snapshot().find(e => e.peer === peer)
  }
}

declare global {
  interface Window {
    gridClient: typeof gridClient
  }
}
window.gridClient = gridClient
document.getElementById('status')!.textContent = 'ready'
