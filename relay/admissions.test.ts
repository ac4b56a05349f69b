import { describe, expect, it } from 'vitest'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { MemoryKeyValueStore } from '../src/stores/kv/memory.ts'
import { verifyAdmission } from '../src/net/protocols/directory-admission.ts'
import { AdmissionBook } from './admissions.ts'

describe('the admission table', () => {
  it('keeps first sightings across a reopen, moves a farmer to its new subnet, and forgets the longest silent past its cap', async () => {
    const key = await generateKeyPair('Ed25519')
    const relayId = peerIdFromPrivateKey(key).toString()
    const store = new MemoryKeyValueStore()
    let now = 1_000
    const open = async (): Promise<AdmissionBook> => await AdmissionBook.open({ key, store, vettingPeriodMs: 500, maxEntries: 3, now: () => now })
    const admit = async (book: AdmissionBook, id: string, subnet = '10.0.0.0/24'): Promise<void> => { book.commit(id, await book.prepare(id, subnet)) }

    const book = await open()
    for (const id of ['a', 'b', 'c']) { await admit(book, id); now += 10 }
    // A refused announce (prepared, never committed) leaves no trace.
    await book.prepare('z', '10.0.0.0/24')
    expect(book.firstSeen('z')).toBeUndefined()
    await admit(book, 'a') // heard again: now the most recent
    const moved = await book.prepare('b', '10.9.9.0/24')
    expect(moved).toMatchObject({ firstSeen: 1_010, subnet: '10.9.9.0/24', vettedAt: 1_510 })
    expect(await verifyAdmission(relayId, 'b', moved)).toBe(true)
    book.commit('b', moved)
    await admit(book, 'd') // over the cap of 3: c, heard from longest ago, goes
    expect(book.size).toBe(3)
    expect(book.firstSeen('c')).toBeUndefined()
    await book.stop()

    now = 99_000
    const reopened = await open()
    expect([reopened.firstSeen('a'), reopened.firstSeen('b'), reopened.firstSeen('d')]).toEqual([1_000, 1_010, 1_030])
    expect(await reopened.prepare('a', '10.0.0.0/24')).toMatchObject({ firstSeen: 1_000, vettedAt: 1_500 })
  })
})
