// Owned storage through the CLI against real farmer processes (relay + 6, live 4 + 2): `renew`
// extends every claim of every file put from here, and `rm` completes for the owner although a
// squatter has claimed one of the file's fragments under its own key on one farmer; the squatter's
// claim keeps that copy alive there, and nothing else of the file is left.
import { readFile } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FarmerClient } from '../../src/client/adapters/farmer-client.ts'
import { generateOwnerKey } from '../../src/core/owner-key.ts'
import { HEADER_SIZE } from '../../src/stores/fs-format.ts'
import { CliGrid, writeRandomFile } from './cli-grid.ts'

const g = new CliGrid()
beforeAll(async () => { await g.start(6) })
afterAll(async () => { await g.destroy() })

describe('owned storage from the command line', () => {
  it('renew extends every claim; rm exits 0 with a squatter\'s claim present, and only the squatter\'s copy stays', async () => {
    const src = join(g.work, 'mine.bin')
    await writeRandomFile(src, 3000)
    const { link } = await g.put(src)

    const renewed = await g.cli(['renew', '--json'])
    expect(renewed.code, renewed.stderr).toBe(0)
    // One segment of 4 + 2 fragments on six farmers, and the manifest's copies: every claim renewed.
    expect(JSON.parse(renewed.out)).toMatchObject({ files: 1, farmersAsked: 6, notRenewed: 0, unreachable: [], unopened: [] })
    expect((JSON.parse(renewed.out) as { renewed: number }).renewed).toBeGreaterThanOrEqual(7)

    // A squatter who fetched a fragment stores it under its own key where it already is.
    const victim = g.farmers[0]!
    const file = (await g.fragmentFiles(victim))[0]!
    const bytes = new Uint8Array((await readFile(file)).subarray(HEADER_SIZE))
    const squatter = new FarmerClient({ libp2p: g.node })
    expect(await squatter.put(multiaddr(victim.child.addr), basename(file), bytes, { owner: await generateOwnerKey() })).toEqual({ stored: false })

    const rm = await g.cli(['rm', link])
    expect(rm.code, rm.stderr).toBe(0)
    expect(await g.fragmentFiles(victim)).toEqual([file])
    expect(await g.storedCount()).toBe(1)
  })
})
