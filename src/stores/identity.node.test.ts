import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { afterEach, describe, expect, it } from 'vitest'
import { IDENTITY_FILE, loadOrCreateIdentity } from './identity.node.ts'

const peerOf = (key: PrivateKey): string => peerIdFromPrivateKey(key).toString()

describe('a farmer\'s or relay\'s identity on disk', () => {
  let dir = ''
  afterEach(async () => { await rm(dir, { recursive: true, force: true }) })
  const fresh = async (): Promise<string> => (dir = await mkdtemp(join(tmpdir(), 'shardfarm-id-')))

  it('keeps the peer id of a data directory from an earlier version, even once its old file is gone', async () => {
    const d = await fresh()
    const before = await generateKeyPair('Ed25519')
    await writeFile(join(d, IDENTITY_FILE), privateKeyToProtobuf(before), { mode: 0o600 }) // as it was written
    expect(peerOf(await loadOrCreateIdentity(d))).toBe(peerOf(before))
    await rm(join(d, IDENTITY_FILE))
    expect(peerOf(await loadOrCreateIdentity(d))).toBe(peerOf(before))
  })

  it('makes an identity once, keeps it readable by the owner only, and gives it back on every restart', async () => {
    const d = await fresh()
    const first = peerOf(await loadOrCreateIdentity(d))
    expect(peerOf(await loadOrCreateIdentity(d))).toBe(first)
    expect((await stat(join(d, 'state', 'identity', 'node.v'))).mode & 0o777).toBe(0o600)
    const other = await mkdtemp(join(tmpdir(), 'shardfarm-id-'))
    try {
      expect(peerOf(await loadOrCreateIdentity(other))).not.toBe(first)
    } finally {
      await rm(other, { recursive: true, force: true })
    }
  })

  it('refuses a kept key that does not decode, instead of quietly becoming another peer', async () => {
    const d = await fresh()
    await loadOrCreateIdentity(d)
    await writeFile(join(d, 'state', 'identity', 'node.v'), 'not a key')
    await expect(loadOrCreateIdentity(d)).rejects.toThrow()
  })
})
