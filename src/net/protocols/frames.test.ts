import { describe, expect, it } from 'vitest'
import { Uint8ArrayList } from 'uint8arraylist'
import { FrameReader } from './stream-io.ts'
import {
  checkHeaderLength, decodeIds, encodeFrame, encodeIds, parseHeaderObject, parseRequest, parseResponse, requestBodyLength
} from './frames.ts'
import type { RequestHeader } from './frames.ts'

const ID = 'ab'.repeat(32)
const OWNER = 'A'.repeat(42) + 'A='
const NONCE = 'A'.repeat(22) + '=='
const SIG = 'A'.repeat(86) + '=='
const enc = (v: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(v))

async function * chunks (...parts: Uint8Array[]): AsyncGenerator<Uint8Array> { yield * parts }
/** Feeds bytes one at a time: chunk boundaries must not matter. */
async function * bytewise (bytes: Uint8Array): AsyncGenerator<Uint8Array> { for (const b of bytes) yield new Uint8Array([b]) }

describe('request frames', () => {
  const requests: RequestHeader[] = [
    { op: 'PUT', id: ID, size: 1, owner: OWNER, nonce: NONCE },
    { op: 'PUT', id: ID, size: 16 * 1024 * 1024, owner: OWNER, nonce: NONCE },
    { op: 'GET', id: ID },
    { op: 'HAS', count: 1024 },
    { op: 'DELETE', id: ID, owner: OWNER, ts: 1_700_000_000_000, nonce: NONCE, sig: SIG },
    { op: 'STAT' },
    { op: 'RENEW', owner: OWNER, count: 1024, ts: 1_700_000_000_000, nonce: NONCE, sig: SIG }
  ]

  it.each(requests)('round-trips $op through encode, a bytewise stream, and parse', async (req) => {
    const reader = new FrameReader(bytewise(encodeFrame(req)))
    expect(parseRequest(parseHeaderObject(await reader.readHeader(16384)))).toEqual(req)
    expect(await reader.atEnd()).toBe(true)
  })

  it('ignores unknown fields (a 1.x peer may add optional ones)', () => {
    expect(parseRequest({ op: 'GET', id: ID, hint: 'new' })).toEqual({ op: 'GET', id: ID })
  })

  it('knows each body length', () => {
    expect(requestBodyLength({ op: 'PUT', id: ID, size: 7, owner: OWNER, nonce: NONCE })).toBe(7)
    expect(requestBodyLength({ op: 'HAS', count: 3 })).toBe(96)
    expect(requestBodyLength({ op: 'RENEW', count: 2 })).toBe(64)
    expect(requestBodyLength({ op: 'STAT' })).toBe(0)
  })

  const malformed: Array<[string, Record<string, unknown>, string]> = [
    ['unknown op', { op: 'NOPE' }, 'BAD_REQUEST'],
    ['missing op', {}, 'BAD_REQUEST'],
    ['lower-case op', { op: 'get', id: ID }, 'BAD_REQUEST'],
    ['upper-case id', { op: 'GET', id: ID.toUpperCase() }, 'BAD_REQUEST'],
    ['short id', { op: 'GET', id: 'ab' }, 'BAD_REQUEST'],
    ['id of wrong type', { op: 'GET', id: 42 }, 'BAD_REQUEST'],
    ['size zero', { op: 'PUT', id: ID, size: 0, owner: OWNER, nonce: NONCE }, 'BAD_REQUEST'],
    ['size fractional', { op: 'PUT', id: ID, size: 1.5, owner: OWNER, nonce: NONCE }, 'BAD_REQUEST'],
    ['size string', { op: 'PUT', id: ID, size: '10', owner: OWNER, nonce: NONCE }, 'BAD_REQUEST'],
    ['size over 16 MiB', { op: 'PUT', id: ID, size: 16 * 1024 * 1024 + 1, owner: OWNER, nonce: NONCE }, 'TOO_LARGE'],
    ['size astronomically large', { op: 'PUT', id: ID, size: 1e300, owner: OWNER, nonce: NONCE }, 'BAD_REQUEST'],
    ['owner malformed', { op: 'PUT', id: ID, size: 1, owner: 'xyz', nonce: NONCE }, 'BAD_REQUEST'],
    ['PUT without an owner', { op: 'PUT', id: ID, size: 1, nonce: NONCE }, 'FORBIDDEN'],
    ['PUT without a nonce', { op: 'PUT', id: ID, size: 1, owner: OWNER }, 'BAD_REQUEST'],
    ['DELETE without an owner', { op: 'DELETE', id: ID, ts: 1, nonce: NONCE, sig: SIG }, 'BAD_REQUEST'],
    ['RENEW count over 1024', { op: 'RENEW', owner: OWNER, count: 1025, ts: 1, nonce: NONCE, sig: SIG }, 'TOO_LARGE'],
    ['RENEW without a signature', { op: 'RENEW', owner: OWNER, count: 1, ts: 1, nonce: NONCE }, 'BAD_REQUEST'],
    ['HAS count zero', { op: 'HAS', count: 0 }, 'BAD_REQUEST'],
    ['HAS count over 1024', { op: 'HAS', count: 1025 }, 'TOO_LARGE'],
    ['DELETE without ts', { op: 'DELETE', id: ID, owner: OWNER, nonce: NONCE, sig: SIG }, 'BAD_REQUEST'],
    ['DELETE negative ts', { op: 'DELETE', id: ID, owner: OWNER, ts: -1, nonce: NONCE, sig: SIG }, 'BAD_REQUEST'],
    ['DELETE short nonce', { op: 'DELETE', id: ID, owner: OWNER, ts: 1, nonce: 'AA==', sig: SIG }, 'BAD_REQUEST'],
    ['DELETE sig not base64', { op: 'DELETE', id: ID, owner: OWNER, ts: 1, nonce: NONCE, sig: '!'.repeat(88) }, 'BAD_REQUEST']
  ]
  it.each(malformed)('refuses %s', (_name, obj, code) => {
    expect(() => parseRequest(obj)).toThrow(expect.objectContaining({ code }))
  })
})

describe('header bytes', () => {
  it.each([
    ['not UTF-8', new Uint8Array([0xff, 0xfe])],
    ['not JSON', new TextEncoder().encode('{op:')],
    ['an array', enc([1])],
    ['null', enc(null)],
    ['a string', enc('PUT')]
  ])('refuses a header that is %s with BAD_REQUEST', (_name, bytes) => {
    expect(() => parseHeaderObject(bytes)).toThrow(expect.objectContaining({ name: 'BadRequestError', code: 'BAD_REQUEST' }))
  })

  it('refuses empty and oversized length prefixes before reading them', () => {
    expect(() => { checkHeaderLength(0) }).toThrow(expect.objectContaining({ code: 'BAD_REQUEST' }))
    expect(() => { checkHeaderLength(16385) }).toThrow(expect.objectContaining({ code: 'TOO_LARGE' }))
    expect(() => { checkHeaderLength(0xffffffff) }).toThrow(expect.objectContaining({ code: 'TOO_LARGE' }))
    expect(() => { checkHeaderLength(16384) }).not.toThrow()
  })

  it('reports a huge prefix as TOO_LARGE and a cut frame as BAD_REQUEST from the reader', async () => {
    await expect(new FrameReader(chunks(new Uint8Array([0xff, 0xff, 0xff, 0xff]))).readHeader(16384))
      .rejects.toMatchObject({ code: 'TOO_LARGE' })
    const frame = encodeFrame({ op: 'STAT' })
    for (const cut of [0, 2, 4, frame.length - 1]) {
      await expect(new FrameReader(chunks(frame.subarray(0, cut))).readHeader(16384))
        .rejects.toMatchObject({ code: 'BAD_REQUEST', details: { reason: 'truncated' } })
    }
  })

  it('refuses to encode a header over the limit', () => {
    expect(() => encodeFrame({ pad: 'x'.repeat(16384) })).toThrow(expect.objectContaining({ code: 'TOO_LARGE' }))
  })

  it('keeps bytes after a header for the body, across chunk boundaries', async () => {
    const frame = encodeFrame({ op: 'PUT', id: ID, size: 5 })
    const all = new Uint8Array([...frame, 1, 2, 3, 4, 5])
    const reader = new FrameReader(chunks(all.subarray(0, 3), all.subarray(3, frame.length + 2), all.subarray(frame.length + 2)))
    await reader.readHeader(16384)
    const body = new Uint8Array(5)
    expect(await reader.readInto(body)).toBe(5)
    expect([...body]).toEqual([1, 2, 3, 4, 5])
    expect(await reader.atEnd()).toBe(true)
  })

  it('reads chunks that are Uint8ArrayLists piece by piece, empty pieces included', async () => {
    const frame = encodeFrame({ op: 'PUT', id: ID, size: 300 })
    const body = Uint8Array.from({ length: 300 }, (_, i) => i & 255)
    const all = new Uint8Array([...frame, ...body, 9, 9])
    const list = (...cuts: number[]): Uint8ArrayList => {
      const l = new Uint8ArrayList()
      for (let i = 0; i + 1 < cuts.length; i++) l.append(all.subarray(cuts[i], cuts[i + 1]))
      return l
    }
    async function * source (): AsyncGenerator<Uint8Array | Uint8ArrayList> {
      yield list(0, 2, 2, frame.length + 10) // a header split, an empty piece, body bytes after it
      yield all.subarray(frame.length + 10, frame.length + 100)
      yield list(frame.length + 100, frame.length + 101, all.length)
    }
    const reader = new FrameReader(source())
    expect(JSON.parse(new TextDecoder().decode(await reader.readHeader(16384)))).toMatchObject({ op: 'PUT', size: 300 })
    const got = new Uint8Array(300)
    expect(await reader.readInto(got)).toBe(300)
    expect(got).toEqual(body)
    expect(await reader.atEnd()).toBe(false)
    expect(await reader.discardToEnd()).toBe(2)
    expect(await reader.atEnd()).toBe(true)
  })
})

describe('HAS ids and responses', () => {
  it('round-trips ids as raw bytes', () => {
    const ids = [ID, 'cd'.repeat(32), '0'.repeat(64)]
    expect(decodeIds(encodeIds(ids))).toEqual(ids)
    expect(() => decodeIds(new Uint8Array(33))).toThrow(expect.objectContaining({ code: 'BAD_REQUEST' }))
    expect(() => encodeIds(['zz'])).toThrow(expect.objectContaining({ code: 'BAD_REQUEST' }))
  })

  it('parses each success and refusal', () => {
    const stat = { capacity: 10, used: 1, free: 9, count: 1, region: 'eu', tier: 'live', kind: 'full', version: '1' }
    expect(parseResponse('PUT', { ok: true, stored: false })).toEqual({ ok: true, stored: false })
    expect(parseResponse('PUT', { ok: true, stored: false, proof: ID })).toEqual({ ok: true, stored: false, proof: ID })
    expect(parseResponse('RENEW', { ok: true, renewed: '01', expiresAt: 5 }, {}, 2)).toEqual({ ok: true, renewed: '01', expiresAt: 5 })
    expect(parseResponse('GET', { ok: true, size: 3 })).toEqual({ ok: true, size: 3 })
    expect(parseResponse('HAS', { ok: true, held: '101' }, {}, 3)).toEqual({ ok: true, held: '101' })
    expect(parseResponse('DELETE', { ok: true })).toEqual({ ok: true })
    expect(parseResponse('STAT', { ok: true, stat })).toEqual({ ok: true, stat })
    expect(parseResponse('GET', { ok: false, code: 'NOT_FOUND', message: 'no', details: { id: ID } }))
      .toEqual({ ok: false, code: 'NOT_FOUND', message: 'no', details: { id: ID } })
  })

  it.each([
    ['ok missing', 'STAT', {}],
    ['stored missing', 'PUT', { ok: true }],
    ['GET size over limit', 'GET', { ok: true, size: 16 * 1024 * 1024 + 1 }],
    ['held of wrong length', 'HAS', { ok: true, held: '1' }],
    ['held not binary', 'HAS', { ok: true, held: '12' }],
    ['proof not hex', 'PUT', { ok: true, stored: false, proof: 'zz' }],
    ['renewed of wrong length', 'RENEW', { ok: true, renewed: '1', expiresAt: 1 }],
    ['stat negative', 'STAT', { ok: true, stat: { capacity: -1 } }],
    ['code not a code', 'GET', { ok: false, code: 'lower case' }]
  ] as const)('refuses a response with %s', (_name, op, obj) => {
    expect(() => parseResponse(op, obj as Record<string, unknown>, {}, 2)).toThrow(expect.objectContaining({ name: expect.any(String) }))
  })
})
