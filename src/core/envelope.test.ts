import { describe, it, expect, vi } from 'vitest'
import {
  decryptSegment, encryptSegment, generateFileId, generateFileKey, importFileKey, MANIFEST_HEADER_BYTES, MANIFEST_OVERHEAD, openBytes,
  sealBytes, TAG_BYTES
} from './envelope.ts'
import { fromHex, toHex } from './hash.ts'

const MAGIC = [0x53, 0x46, 0x4d, 0x02]

/**
 * How manifests were sealed before format 2 (kept here to make format-1 bytes): raw GCM output
 * under the fixed nonce ff ff ff ff ‖ 0 (8 bytes), associated data "shardfarm/manifest/v1" ‖ file id.
 */
async function sealFormat1 (key: CryptoKey, fileId: Uint8Array, plaintext: Uint8Array): Promise<Uint8Array> {
  const iv = Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0)
  const label = new TextEncoder().encode('shardfarm/manifest/v1')
  const aad = new Uint8Array(label.length + fileId.length)
  aad.set(label)
  aad.set(fileId, label.length)
  return new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: aad }, key, plaintext as Uint8Array<ArrayBuffer>))
}

/** Nonce bytes of a format-2 sealed manifest. */
const nonceOf = (sealed: Uint8Array): string => toHex(sealed.subarray(MAGIC.length, MANIFEST_HEADER_BYTES))

/**
 * Of the keystream bytes two sealings spent on their plaintexts, how many are equal. The
 * ciphertext is taken as the `plain.length` bytes before the tag, whatever comes before it.
 */
function equalKeystream (a: Uint8Array, plainA: Uint8Array, b: Uint8Array, plainB: Uint8Array): number {
  const ctA = a.subarray(a.length - TAG_BYTES - plainA.length, a.length - TAG_BYTES)
  const ctB = b.subarray(b.length - TAG_BYTES - plainB.length, b.length - TAG_BYTES)
  let equal = 0
  for (let i = 0; i < Math.min(plainA.length, plainB.length); i++) if ((ctA[i]! ^ plainA[i]!) === (ctB[i]! ^ plainB[i]!)) equal++
  return equal
}

/** Fixed inputs of the format-1 golden vector (made with node:crypto and with the code before format 2). */
const GOLDEN_KEY = Uint8Array.from({ length: 32 }, (_, i) => i)
const GOLDEN_FILE_ID = Uint8Array.from({ length: 16 }, (_, i) => 0xf0 + i)
const GOLDEN_PLAIN = new TextEncoder().encode('{"a shardfarm manifest":"sealed in format 1"}')
const GOLDEN_SEALED = 'e2adcbef4beecfd5d355726a2c54bfbe3e30cc3bf48efc3cbfef85a613c6077ffb4c09ea4fe9a8e6afdbb04135d4c5f8f2676368d06d2b53c3b2e35b28'

describe('crypto envelope (AES-256-GCM)', () => {
  it('round-trips a segment; ciphertext is plaintext + 16 bytes and reveals nothing obvious', async () => {
    const key = await importFileKey(generateFileKey())
    const fileId = generateFileId()
    const plain = new TextEncoder().encode('attack at dawn '.repeat(100))
    const ct = await encryptSegment(key, fileId, 3, 10, plain)
    expect(ct.length).toBe(plain.length + TAG_BYTES)
    expect(new TextDecoder().decode(ct)).not.toContain('attack')
    expect(await decryptSegment(key, fileId, 3, 10, ct)).toEqual(plain)
  })

  it('a wrong key, a flipped bit, another index, count or file id all fail authentication', async () => {
    const raw = generateFileKey()
    const key = await importFileKey(raw)
    const fileId = generateFileId()
    const ct = await encryptSegment(key, fileId, 1, 4, new Uint8Array(1000).fill(7))
    const other = raw.slice(); other[0]! ^= 1
    const otherKey = await importFileKey(other)
    // Thunks, not promises: each rejection is awaited as soon as it exists.
    const cases: Array<() => Promise<unknown>> = [
      async () => await decryptSegment(otherKey, fileId, 1, 4, ct),
      async () => await decryptSegment(key, fileId, 2, 4, ct), // reordered
      async () => await decryptSegment(key, fileId, 1, 5, ct), // truncated or extended file
      async () => await decryptSegment(key, generateFileId(), 1, 4, ct), // swapped in from another file
      async () => { const t = ct.slice(); t[500]! ^= 0x80; return await decryptSegment(key, fileId, 1, 4, t) },
      async () => await decryptSegment(key, fileId, 1, 4, ct.subarray(0, 10))
    ]
    for (const c of cases) await expect(c()).rejects.toMatchObject({ name: 'AuthenticationError', code: 'AUTHENTICATION_FAILED' })
  })

  it('segment and manifest nonces never collide, and sealed bytes open only for their file', async () => {
    const key = await importFileKey(generateFileKey())
    const fileId = generateFileId()
    const data = new Uint8Array(64)
    const seg0 = await encryptSegment(key, fileId, 0, 1, data)
    const sealed = await sealBytes(key, fileId, data)
    expect(seg0).not.toEqual(sealed)
    expect(await openBytes(key, fileId, sealed)).toEqual(data)
    await expect(openBytes(key, generateFileId(), sealed)).rejects.toMatchObject({ name: 'AuthenticationError' })
    await expect(encryptSegment(key, fileId, 1, 1, data)).rejects.toThrow(RangeError)
  })
})

describe('manifest sealing (format 2: magic ‖ random nonce ‖ ciphertext ‖ tag)', () => {
  it('every sealing draws its own nonce: the same bytes twice, or two manifests that differ, never share one', async () => {
    const key = await importFileKey(generateFileKey())
    const fileId = generateFileId()
    // Two manifests of one length that differ only late (a farmer's new address), as after a resume.
    const a = new TextEncoder().encode('{"farmers":{"peerA":["/ip4/10.0.0.1/tcp/4001/ws"]},"name":"report.pdf"}')
    const b = new TextEncoder().encode('{"farmers":{"peerA":["/ip4/10.0.0.2/tcp/4001/ws"]},"name":"report.pdf"}')
    const seals = [await sealBytes(key, fileId, a), await sealBytes(key, fileId, a), await sealBytes(key, fileId, b), await sealBytes(key, fileId, b)]
    const plains = [a, a, b, b]
    for (const [i, sealed] of seals.entries()) {
      expect([...sealed.subarray(0, 4)]).toEqual(MAGIC)
      expect(sealed.length).toBe(plains[i]!.length + MANIFEST_OVERHEAD)
      expect(await openBytes(key, fileId, sealed)).toEqual(plains[i])
    }
    expect(new Set(seals.map(nonceOf)).size).toBe(seals.length)
    expect(new Set(seals.map(s => toHex(s.subarray(MANIFEST_HEADER_BYTES)))).size).toBe(seals.length)
    // Under one key and nonce the keystreams would be equal byte for byte; fresh nonces leave ~1 in 256.
    for (let i = 0; i < seals.length; i++) {
      for (let j = i + 1; j < seals.length; j++) expect(equalKeystream(seals[i]!, plains[i]!, seals[j]!, plains[j]!)).toBeLessThan(a.length / 4)
    }
  })

  it('a nonce that would fall among the segments\' or the old manifest nonce is drawn again', async () => {
    const key = await importFileKey(generateFileKey())
    const fileId = generateFileId()
    const real = crypto.getRandomValues.bind(crypto)
    const draws: Array<(a: Uint8Array) => void> = [a => { a.fill(0) }, a => { a.fill(0xff) }, a => { a.fill(0xff); a[4] = 1 }]
    const spy = vi.spyOn(crypto, 'getRandomValues').mockImplementation(((array: Uint8Array): Uint8Array => {
      const draw = draws.shift()
      if (draw === undefined) return real(array)
      draw(array)
      return array
    }) as typeof crypto.getRandomValues)
    try {
      const sealed = await sealBytes(key, fileId, new Uint8Array(10))
      // 00000000 ‖ … is a segment's nonce, ffffffff ‖ 0 format 1's; any other ffffffff ‖ … is kept out too.
      expect(draws).toEqual([])
      expect(nonceOf(sealed)).not.toMatch(/^(00000000|ffffffff)/)
      expect(await openBytes(key, fileId, sealed)).toEqual(new Uint8Array(10))
    } finally {
      spy.mockRestore()
    }
  })

  it('a changed or stripped header fails authentication: no downgrade to format 1, no other nonce', async () => {
    const key = await importFileKey(generateFileKey())
    const fileId = generateFileId()
    const plain = new TextEncoder().encode('{"manifest":"x"}')
    const sealed = await sealBytes(key, fileId, plain)
    const other = await sealBytes(key, fileId, plain)
    const cases: Uint8Array[] = []
    for (let i = 0; i < MANIFEST_HEADER_BYTES; i++) {
      for (const bit of [0x01, 0x80]) { const t = sealed.slice(); t[i]! ^= bit; cases.push(t) }
    }
    const withHeader = (header: ArrayLike<number>, rest: Uint8Array): Uint8Array => { const t = new Uint8Array(header.length + rest.length); t.set(header); t.set(rest, header.length); return t }
    const body = sealed.subarray(MANIFEST_HEADER_BYTES)
    cases.push(
      body, // header stripped: the bare GCM output, as format 1 looked
      sealed.subarray(MAGIC.length), // magic stripped
      withHeader(sealed.subarray(0, MAGIC.length), body), // nonce stripped
      withHeader([...MAGIC.slice(0, 3), 0x01, ...sealed.subarray(4, MANIFEST_HEADER_BYTES)], body), // format byte says 1
      withHeader([...MAGIC.slice(0, 3), 0x03, ...sealed.subarray(4, MANIFEST_HEADER_BYTES)], body), // format byte says 3
      withHeader(other.subarray(0, MANIFEST_HEADER_BYTES), body), // another sealing's nonce
      sealed.subarray(0, MANIFEST_OVERHEAD - 1), // shorter than a header and a tag
      sealed.subarray(0, sealed.length - 1)
    )
    for (const t of cases) await expect(openBytes(key, fileId, t)).rejects.toMatchObject({ name: 'AuthenticationError', code: 'AUTHENTICATION_FAILED' })
    await expect(openBytes(key, generateFileId(), sealed)).rejects.toMatchObject({ name: 'AuthenticationError' })
    expect(await openBytes(key, fileId, sealed)).toEqual(plain)
  })

  it('format-1 manifests (fixed nonce, no header) still open, and only for their file and key', async () => {
    const key = await importFileKey(GOLDEN_KEY)
    const golden = fromHex(GOLDEN_SEALED)
    expect(await sealFormat1(key, GOLDEN_FILE_ID, GOLDEN_PLAIN)).toEqual(golden)
    expect(await openBytes(key, GOLDEN_FILE_ID, golden)).toEqual(GOLDEN_PLAIN)
    const fresh = await importFileKey(generateFileKey())
    const fileId = generateFileId()
    const plain = new TextEncoder().encode('{"any":"manifest"}')
    const old = await sealFormat1(fresh, fileId, plain)
    expect(await openBytes(fresh, fileId, old)).toEqual(plain)
    await expect(openBytes(fresh, generateFileId(), old)).rejects.toMatchObject({ name: 'AuthenticationError' })
    await expect(openBytes(await importFileKey(generateFileKey()), fileId, old)).rejects.toMatchObject({ name: 'AuthenticationError' })
    const t = old.slice(); t[5]! ^= 1
    await expect(openBytes(fresh, fileId, t)).rejects.toMatchObject({ name: 'AuthenticationError' })
  })

  it('a format-1 manifest whose ciphertext happens to begin with the format-2 magic still opens', async () => {
    const key = await importFileKey(generateFileKey())
    const fileId = generateFileId()
    // GCM's keystream does not depend on the plaintext, so a plaintext can be chosen whose
    // format-1 ciphertext begins with the magic (a chance of 2^-32 for a real manifest).
    const stream = await sealFormat1(key, fileId, new Uint8Array(40))
    const plain = crypto.getRandomValues(new Uint8Array(40))
    for (let i = 0; i < MAGIC.length; i++) plain[i] = MAGIC[i]! ^ stream[i]!
    const old = await sealFormat1(key, fileId, plain)
    expect([...old.subarray(0, 4)]).toEqual(MAGIC)
    expect(await openBytes(key, fileId, old)).toEqual(plain)
  })
})
