import { generateKeyPair, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { deleteDB, openDB } from 'idb'
import { afterEach, describe, expect, it } from 'vitest'
import { loadFarmerKey } from './farmer-key.ts'

const databases = async (): Promise<string[]> => (await indexedDB.databases()).map(d => d.name!)
const peerOf = (key: Awaited<ReturnType<typeof loadFarmerKey>>): string => peerIdFromPrivateKey(key).toString()

// In Chromium: real IndexedDB. The app's store closes its connection when a test deletes it.
afterEach(async () => { for (const name of ['shardfarm', 'shardfarm-identity']) await deleteDB(name) })

describe('the light farmer\'s identity', () => {
  it('keeps the peer id an earlier version kept in its own database, and deletes that database', async () => {
    // What the earlier version wrote.
    const before = await generateKeyPair('Ed25519')
    const old = await openDB('shardfarm-identity', 1, { upgrade (d) { d.createObjectStore('keys') } })
    await old.put('keys', privateKeyToProtobuf(before), 'farmer')
    old.close()

    expect(peerOf(await loadFarmerKey())).toBe(peerIdFromPrivateKey(before).toString())
    await expect.poll(databases).not.toContain('shardfarm-identity')
    expect(peerOf(await loadFarmerKey())).toBe(peerIdFromPrivateKey(before).toString())
  })

  it('is made once and survives reloads, without creating the old database', async () => {
    const first = peerOf(await loadFarmerKey())
    expect(peerOf(await loadFarmerKey())).toBe(first)
    // Looking for an earlier version's database did not create one.
    expect(await databases()).not.toContain('shardfarm-identity')
  })
})
