import { randomBytes, createHash } from 'node:crypto'
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openFileSink, STAGE_BYTES } from './file-sink.ts'

let dir: string
beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'sink-')) })
afterAll(async () => { await rm(dir, { recursive: true, force: true }) })

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

/** Writes `data` in chunks of the given sizes (cycled) and returns what landed on disk. */
async function through (name: string, data: Uint8Array, sizes: number[], direct?: boolean): Promise<{ back: Buffer, direct: boolean }> {
  const path = join(dir, name)
  const sink = await openFileSink(path, { direct })
  for (let off = 0, i = 0; off < data.length; i++) {
    const n = Math.min(sizes[i % sizes.length]!, data.length - off)
    const chunk = data.slice(off, off + n)
    await sink.write(chunk)
    chunk.fill(0xee) // the sink copied it: reusing the chunk must not change the file
    off += n
  }
  await sink.close()
  return { back: await readFile(path), direct: sink.direct }
}

describe('openFileSink', () => {
  it('writes with O_DIRECT on this file system, byte-exact at any size and chunking', async () => {
    for (const size of [0, 1, 4095, 4096, STAGE_BYTES - 1, STAGE_BYTES, STAGE_BYTES + 1, 3 * STAGE_BYTES + 12345]) {
      const data = new Uint8Array(randomBytes(size))
      const { back, direct } = await through(`d-${size}`, data, [10 * 1048576 - 160, 7, 65536, 1 << 20])
      expect(direct).toBe(true) // os.tmpdir() is ext4 here, which takes O_DIRECT
      expect(back.length).toBe(size)
      expect(sha(back)).toBe(sha(data))
    }
  })

  it('writes through the page cache when asked to, with the same bytes', async () => {
    const data = new Uint8Array(randomBytes(2 * STAGE_BYTES + 99))
    const { back, direct } = await through('buffered', data, [1 << 20, 333], false)
    expect(direct).toBe(false)
    expect(sha(back)).toBe(sha(data))
  })

  it('replaces what was there before', async () => {
    const path = join(dir, 'again')
    const first = await openFileSink(path)
    await first.write(new Uint8Array(randomBytes(STAGE_BYTES * 2)))
    await first.close()
    const second = await openFileSink(path)
    await second.write(new Uint8Array([1, 2, 3]))
    await second.close()
    expect([...await readFile(path)]).toEqual([1, 2, 3])
    expect((await stat(path)).size).toBe(3)
  })

  it('fails with the system error where the file cannot be made', async () => {
    const file = join(dir, 'plain-file')
    await writeFile(file, 'x')
    await expect(openFileSink(join(file, 'below'))).rejects.toMatchObject({ code: 'ENOTDIR' })
  })
})
