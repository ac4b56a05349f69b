// The bundled CLI (scripts/build-cli.ts) does what the sources do: built into a temp dir and picked
// by the real launcher, it puts and gets a multi-segment file over a real grid (so its codec worker
// and wasm modules load from the bundle's directory), and a stale bundle is not used.
import { execFile } from 'node:child_process'
import { appendFile, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CliGrid, LIVE_SEGMENT, sha256File, writeRandomFile } from './cli-grid.ts'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const g = new CliGrid()
let out = ''
beforeAll(async () => {
  out = await mkdtemp(join(tmpdir(), 'shardfarm-cli-bundle-'))
  await promisify(execFile)(process.execPath, [join(ROOT, 'scripts/build-cli.ts'), '--out', out], { cwd: ROOT })
  await g.start(6)
}, 120_000)
afterAll(async () => {
  await g.destroy()
  await rm(out, { recursive: true, force: true })
})

describe('the bundled CLI', () => {
  it('holds the file commands only, and its stamp lists what it was built from', async () => {
    const stamp = JSON.parse(await readFile(join(out, 'stamp.json'), 'utf8')) as { files: Array<{ path: string }> }
    const paths = stamp.files.map(f => f.path)
    for (const p of ['package-lock.json', 'scripts/build-cli.ts', 'src/cli/file-main.ts', 'src/cli/files.ts', 'src/client/ops/upload.ts',
      'src/codec/worker.node.ts', 'src/codec/wasm/shardfarm_codec_standard.wasm', 'src/codec/wasm/shardfarm_codec_relaxed.wasm']) {
      expect(paths).toContain(p)
    }
    // Farmer, relay and grid code finds files by paths relative to the sources: never bundled.
    expect(paths.filter(p => p.startsWith('relay/') || p.startsWith('src/farmer/') || p === 'src/cli/grid.ts' || p === 'src/cli/start.ts')).toEqual([])
    expect((await stat(join(out, 'codec-worker.js'))).isFile()).toBe(true)
  })


  it('is what the launcher runs, and round-trips a file through the codec', async () => {
    const env = { SHARDFARM_CLI_BUNDLE: out, SHARDFARM_WHICH: '1', SHARDFARM_FROM_SOURCE: '0' }
    const src = join(g.work, 'bundled.bin')
    const digest = await writeRandomFile(src, 2 * LIVE_SEGMENT + 5)
    const put = await g.cli(['put', src, '--json'], { env })
    expect(put.code, put.stderr).toBe(0)
    expect(put.stderr).toContain(`running the bundle ${join(out, 'shardfarm.js')}`)
    const { link, segments } = JSON.parse(put.out) as { link: string, segments: number }
    expect(segments).toBe(3)

    const dst = join(g.work, 'bundled.out')
    const got = await g.cli(['get', link, '-o', dst], { env })
    expect(got.code, got.stderr).toBe(0)
    expect(got.stderr).toContain('running the bundle')
    expect((await stat(dst)).size).toBe(2 * LIVE_SEGMENT + 5)
    expect(await sha256File(dst)).toBe(digest)
  })

  it('is not used once a source it was built from changes', async () => {
    // A copy of the stamp that lists one more, temporary, source file; editing that file must
    // send the launcher back to the sources (the real sources are not touched).
    const stampPath = join(out, 'stamp.json')
    const stamp = JSON.parse(await readFile(stampPath, 'utf8')) as { files: Array<{ path: string, size: number, mtimeMs: number }> }
    const probe = join(g.work, 'probe.ts')
    await writeFile(probe, 'export {}\n')
    const s = await stat(probe)
    stamp.files.push({ path: relative(ROOT, probe), size: s.size, mtimeMs: s.mtimeMs })
    await writeFile(stampPath, JSON.stringify(stamp))
    const env = { SHARDFARM_CLI_BUNDLE: out, SHARDFARM_WHICH: '1', SHARDFARM_FROM_SOURCE: '0' }
    const before = await g.cli(['ls'], { env })
    expect(before.code, before.stderr).toBe(0)
    expect(before.stderr).toContain('running the bundle')
    await appendFile(probe, '// edited\n')
    const after = await g.cli(['ls'], { env })
    expect(after.code, after.stderr).toBe(0)
    expect(after.stderr).toMatch(/running from source: .*probe\.ts changed since the bundle was built/)
  })

  it('that does not load gives way to the sources, and the command still works', async () => {
    const broken = await mkdtemp(join(tmpdir(), 'shardfarm-cli-broken-'))
    try {
      // The real bundle's stamp (less the probe the test above added and edited): fresh.
      const stamp = JSON.parse(await readFile(join(out, 'stamp.json'), 'utf8')) as { files: Array<{ path: string }> }
      await writeFile(join(broken, 'stamp.json'), JSON.stringify({ files: stamp.files.filter(f => !f.path.endsWith('probe.ts')) }))
      await writeFile(join(broken, 'shardfarm.js'), 'throw new Error("half a bundle")\n')
      const r = await g.cli(['ls', '--json'], { env: { SHARDFARM_CLI_BUNDLE: broken, SHARDFARM_FROM_SOURCE: '0' } })
      expect(r.code, r.stderr).toBe(0)
      expect(r.stderr).toContain('did not load (half a bundle); running from source')
      expect(Array.isArray(JSON.parse(r.out))).toBe(true)
    } finally {
      await rm(broken, { recursive: true, force: true })
    }
  })
})
