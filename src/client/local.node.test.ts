import { appendFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { FileJournal } from './local.node.ts'
import type { JournalState } from './ports.ts'

const homes: string[] = []
afterEach(async () => { for (const h of homes.splice(0)) await rm(h, { recursive: true, force: true }) })
async function home (): Promise<string> {
  const h = await mkdtemp(join(tmpdir(), 'sf-journal-'))
  homes.push(h)
  return h
}

function state (): JournalState {
  return {
    version: 1, sourceKey: '/f:10:1', fileIdHex: 'ab'.repeat(16), keyB64: 'a2V5', ownerSeedB64: 'c2VlZA==',
    policy: { name: 'live', k: 4, m: 2 }, shardSize: 1024, done: {}, createdAt: 1
  }
}
const seg = (s: number): JournalState['done'][number] => ({
  digest: s.toString(16).padStart(64, '0'),
  entry: { ciphertextLength: 4096, shardLength: 1024, fragments: [`${s}`.padStart(64, 'f')], holders: [[`peer-${s}`]] }
})

describe('FileJournal (append-only JSON lines)', () => {
  it('appends one line per stored segment and reads the state back, in a new process too', async () => {
    const h = await home()
    const j = new FileJournal('/f:10:1', h)
    const st = state()
    await j.save(st)
    for (let s = 0; s < 50; s++) {
      st.done[s] = seg(s)
      await j.save(st)
    }
    const lines = (await readFile(j.path, 'utf8')).split('\n')
    expect(lines).toHaveLength(52) // header, 50 segments, and the empty tail after the last newline
    expect(await new FileJournal('/f:10:1', h).load()).toEqual(st)

    // A resumed upload appends to what it loaded, without rewriting the header.
    const again = new FileJournal('/f:10:1', h)
    const loaded = (await again.load())!
    loaded.done[50] = seg(50)
    await again.save(loaded)
    const after = (await readFile(j.path, 'utf8')).split('\n')
    expect(after.slice(0, 51)).toEqual(lines.slice(0, 51))
    expect(after).toHaveLength(53)
    expect(Object.keys((await new FileJournal('/f:10:1', h).load())!.done)).toHaveLength(51)
  })

  it('a segment stored again gets a new line, and the last one wins on load', async () => {
    const h = await home()
    const j = new FileJournal('/f:10:1', h)
    const st = state()
    st.done[0] = seg(0)
    st.done[1] = seg(1)
    await j.save(st)
    const again = new FileJournal('/f:10:1', h)
    const loaded = (await again.load())!
    await again.save(loaded) // nothing new: nothing appended
    const before = (await readFile(j.path, 'utf8')).split('\n').length
    loaded.done[1] = { ...seg(1), entry: { ...seg(1).entry, holders: [['peer-elsewhere']] } }
    await again.save(loaded)
    expect((await readFile(j.path, 'utf8')).split('\n')).toHaveLength(before + 1)
    expect((await new FileJournal('/f:10:1', h).load())!.done[1]!.entry.holders).toEqual([['peer-elsewhere']])
  })

  it('once cleared, a save still on its way does not bring the journal back', async () => {
    const h = await home()
    const j = new FileJournal('/f:10:1', h)
    const st = state()
    st.done[0] = seg(0)
    await j.save(st)
    await j.clear()
    st.done[1] = seg(1)
    await j.save(st) // another worker, late
    expect(await new FileJournal('/f:10:1', h).load()).toBeUndefined()
    // The next upload of the same file starts a journal again.
    const next = new FileJournal('/f:10:1', h)
    expect(await next.load()).toBeUndefined()
    await next.save(state())
    expect(await new FileJournal('/f:10:1', h).load()).toEqual(state())
  })

  it('ignores a torn last line, reads the old single-object format, and starts over on an unreadable header', async () => {
    const h = await home()
    const j = new FileJournal('/f:10:1', h)
    const st = state()
    st.done[0] = seg(0)
    await j.save(st)
    await appendFile(j.path, '{"s":1,"digest":"00') // killed mid-append
    expect(await new FileJournal('/f:10:1', h).load()).toEqual(st)

    const old = state()
    old.done[0] = seg(0); old.done[1] = seg(1)
    await writeFile(j.path, JSON.stringify(old))
    expect(await new FileJournal('/f:10:1', h).load()).toEqual(old)

    await writeFile(j.path, '{"version":1,"sourceK')
    expect(await new FileJournal('/f:10:1', h).load()).toBeUndefined()
    await j.clear()
    expect(await j.load()).toBeUndefined()
  })

  it('rewrites the whole journal when the upload it describes changes', async () => {
    const h = await home()
    const j = new FileJournal('/f:10:1', h)
    const first = state()
    first.done[0] = seg(0)
    await j.save(first)
    const other = { ...state(), fileIdHex: 'cd'.repeat(16) } // the same source, started over under a new file id
    await j.save(other)
    expect(await new FileJournal('/f:10:1', h).load()).toEqual(other)
  })
})
