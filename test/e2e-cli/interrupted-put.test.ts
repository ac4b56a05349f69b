// Puts that do not go smoothly: a farmer SIGKILLed while fragments are flowing to it, and the CLI
// itself interrupted (Ctrl-C, then SIGKILL) and run again. Relay + 7 farmers, so the live policy
// (4 + 2) has a spare farmer to move fragments to.
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { ChildProcess } from 'node:child_process'
import { CliGrid, LIVE_SEGMENT, MiB, sha256File, writeRandomFile } from './cli-grid.ts'
import type { Farmer } from './cli-grid.ts'
import { nodeJobStore } from '../../src/client/session.node.ts'

const g = new CliGrid()
beforeAll(async () => { await g.start(7) })
afterEach(async () => { await g.heal() })
afterAll(async () => { await g.destroy() })

const SEGMENTS = 8
const SIZE = SEGMENTS * LIVE_SEGMENT - 1000
/** Fragment bytes a whole put of SIZE sends: k + m shards of ceil((plaintext + tag) / k) per segment. */
const FULL = (SEGMENTS - 1) * 6 * MiB + 6 * Math.ceil((LIVE_SEGMENT - 1000 + 16) / 4)

/** Polls `cond` every 20 ms; resolves once it holds (false after `ms`). */
async function until (cond: () => Promise<boolean>, ms = 60_000): Promise<boolean> {
  const end = Date.now() + ms
  while (Date.now() < end) {
    if (await cond().catch(() => false)) return true
    await new Promise(resolve => setTimeout(resolve, 20))
  }
  return false
}

/** Segments the unfinished put has recorded as sent in its job (the job store under SHARDFARM_HOME). */
async function journaled (): Promise<number> {
  const jobs = nodeJobStore(g.home)
  let n = 0
  for (const job of await jobs.listJobs()) n += (await jobs.segments(job.id)).filter(r => r?.holders !== undefined).length
  return n
}

describe('an interrupted put', () => {
  it('a farmer SIGKILLed during the put: the put completes on the others and the file comes back intact', async () => {
    const src = join(g.work, 'farmer-dies.bin')
    const digest = await writeRandomFile(src, SIZE)
    const victim: Farmer = g.farmers[0]!
    let killed = false
    const watch = until(async () => (await g.fragmentFiles(victim)).length >= 2).then(async ok => {
      if (ok) { await g.kill(victim); killed = true }
    })
    const put = await g.cli(['put', src, '--json'])
    await watch
    expect(killed).toBe(true)
    expect(put.code, put.stderr).toBe(0)
    const { link, segments } = JSON.parse(put.out) as { link: string, segments: number }
    expect(segments).toBe(SEGMENTS)

    const stat = JSON.parse((await g.cli(['stat', link, '--json'])).out) as { segments: Array<{ fragments: Array<{ holders: string[] }> }> }
    // Once its PUT failed the farmer is skipped: the last segment went entirely to live farmers.
    expect(stat.segments.at(-1)!.fragments.flatMap(f => f.holders)).not.toContain(victim.peerId)

    const out = join(g.work, 'farmer-dies.out')
    const got = await g.cli(['get', link, '-o', out])
    expect(got.code, got.stderr).toBe(0)
    expect(await sha256File(out)).toBe(digest)
  })

  it('resuming after a farmer lost its disk: the lost fragments are stored again, and the file is whole', async () => {
    const src = join(g.work, 'resume-lost.bin')
    const digest = await writeRandomFile(src, SIZE)
    let child: ChildProcess | undefined
    const first = await g.cli(['put', src, '--json'], {
      onSpawn: c => { child = c; void until(async () => await journaled() >= 3).then(() => { child!.kill('SIGKILL') }) }
    })
    expect(first.signal).toBe('SIGKILL')
    // The farmer holding the most fragments restarts with an empty disk (same identity and port).
    const counts = await Promise.all(g.farmers.map(async f => (await g.fragmentFiles(f)).length))
    const victim = g.farmers[counts.indexOf(Math.max(...counts))]!
    expect(Math.max(...counts)).toBeGreaterThanOrEqual(3)
    await g.kill(victim)
    await rm(join(victim.dir, 'fragments'), { recursive: true, force: true })
    await g.restart(victim)
    await g.waitListed(g.farmers.length)

    const second = await g.cli(['put', src, '--json'])
    expect(second.code, second.stderr).toBe(0)
    const { link, restoredSegments } = JSON.parse(second.out) as { link: string, restoredSegments: number }
    expect(restoredSegments).toBeGreaterThanOrEqual(1)
    expect(second.stderr).toMatch(/resumed: \d+ segments stored before had lost fragments/)
    const stat = await g.cli(['stat', link, '--json'])
    expect(stat.code, stat.stderr).toBe(0)
    const { segments } = JSON.parse(stat.out) as { segments: Array<{ status: string }> }
    expect(segments.map(s => s.status)).toEqual(segments.map(() => 'healthy'))

    // Still whole with any two of the farmers down: every fragment is where the manifest says.
    await g.kill(g.farmers.find(f => f !== victim)!)
    await g.kill(victim)
    const out = join(g.work, 'resume-lost.out')
    const got = await g.cli(['get', link, '-o', out])
    expect(got.code, got.stderr).toBe(0)
    expect(await sha256File(out)).toBe(digest)
  })

  for (const signal of ['SIGINT', 'SIGKILL'] as const) {
    it(`the CLI stopped by ${signal} after some segments resumes from its journal and sends fewer bytes`, async () => {
      const src = join(g.work, `resume-${signal}.bin`)
      const digest = await writeRandomFile(src, SIZE)
      let child: ChildProcess | undefined
      let doneAtStop = 0
      const first = await g.cli(['put', src, '--json'], {
        onSpawn: c => {
          child = c
          void until(async () => (doneAtStop = await journaled()) >= 3).then(() => { child!.kill(signal) })
        }
      })
      if (signal === 'SIGINT') {
        expect(first.code).toBe(130) // Ctrl-C stops the put (it used to run on to the end)
        expect(first.stderr).toMatch(/interrupted/)
      } else {
        expect(first.signal).toBe('SIGKILL')
      }
      expect(first.out).toBe('') // no link for a file that is not stored
      const kept = await journaled()
      expect(kept).toBeGreaterThanOrEqual(doneAtStop)
      expect(kept).toBeLessThan(SEGMENTS)

      const second = await g.cli(['put', src, '--json'])
      expect(second.code, second.stderr).toBe(0)
      const { link, sentBytes } = JSON.parse(second.out) as { link: string, sentBytes: number }
      // Every journaled segment is skipped whole; fragments of unjournaled ones already on a
      // farmer are skipped too (HAS before PUT).
      expect(sentBytes).toBeLessThanOrEqual(FULL - kept * 6 * MiB)
      expect(await journaled()).toBe(0) // the journal is gone once the put completed

      const out = join(g.work, `resume-${signal}.out`)
      const got = await g.cli(['get', link, '-o', out])
      expect(got.code, got.stderr).toBe(0)
      expect(await sha256File(out)).toBe(digest)
    })
  }
})
