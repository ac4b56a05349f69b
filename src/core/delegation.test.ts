import { describe, expect, it } from 'vitest'
import { checkDelegation, delegatedKey, isDelegatedKey, MAX_DELEGATION_MS, parseDelegation, signDelegation } from './delegation.ts'
import { generateOwnerKey } from './owner-key.ts'

const FILE = 'ab'.repeat(32)
const OTHER_FILE = 'cd'.repeat(32)
const DAY = 24 * 3600_000

describe('delegations', () => {
  it('accepts the owner\'s delegation for its delegate and file, and acts under the owner\'s public key', async () => {
    const owner = await generateOwnerKey()
    const keeper = await generateOwnerKey()
    const d = await signDelegation(owner, keeper.publicKey, FILE, Date.now() + DAY)
    await expect(checkDelegation(d, { owner: owner.publicKey, delegate: keeper.publicKey, manifestId: FILE })).resolves.toEqual(d)
    const key = delegatedKey(keeper, d)
    expect(key.publicKey).toBe(owner.publicKey)
    expect(isDelegatedKey(key)).toBe(true)
    expect(isDelegatedKey(owner)).toBe(false)
  })

  it('refuses forged, expired, too long, foreign and widened delegations with FORBIDDEN and a reason', async () => {
    const owner = await generateOwnerKey()
    const stranger = await generateOwnerKey()
    const keeper = await generateOwnerKey()
    const now = Date.now()
    const good = await signDelegation(owner, keeper.publicKey, FILE, now + DAY)
    const refused = async (v: unknown, expect_: Parameters<typeof checkDelegation>[1] = {}): Promise<unknown> =>
      await checkDelegation(v, { now, ...expect_ }).then(() => undefined, (err: { name: string, code: string, details: { reason: string } }) => ({ name: err.name, code: err.code, reason: err.details.reason }))
    const no = (reason: string): unknown => ({ name: 'DelegationError', code: 'FORBIDDEN', reason })
    expect(await refused({ ...await signDelegation(stranger, keeper.publicKey, FILE, now + DAY), owner: owner.publicKey })).toEqual(no('bad-signature'))
    expect(await refused({ ...good, scope: 'any' })).toEqual(no('bad-signature'))
    expect(await refused({ ...good, expiresAt: good.expiresAt + 1 })).toEqual(no('bad-signature'))
    expect(await refused(await signDelegation(owner, keeper.publicKey, FILE, now - 1))).toEqual(no('expired'))
    expect(await refused(await signDelegation(owner, keeper.publicKey, FILE, now + MAX_DELEGATION_MS + DAY))).toEqual(no('too-long'))
    expect(await refused(good, { owner: stranger.publicKey })).toEqual(no('wrong-owner'))
    expect(await refused(good, { delegate: stranger.publicKey })).toEqual(no('wrong-delegate'))
    expect(await refused(good, { manifestId: OTHER_FILE })).toEqual(no('wrong-scope'))
    // A delegation for any file of the owner fits every file.
    await expect(checkDelegation(await signDelegation(owner, keeper.publicKey, 'any', now + DAY), { manifestId: OTHER_FILE })).resolves.toBeDefined()
  })

  it('refuses what is not a delegation before any signature check', () => {
    const reason = (v: unknown): string | undefined => { try { parseDelegation(v); return undefined } catch (err) { return (err as { details: { reason: string } }).details.reason } }
    expect(reason(null)).toBe('malformed')
    expect(reason([])).toBe('malformed')
    expect(reason({ owner: 'x', delegate: 'y', scope: FILE, expiresAt: 1, sig: 'z' })).toBe('malformed')
    expect(reason({ owner: 'A'.repeat(43) + '=', delegate: 'A'.repeat(43) + '=', scope: 'some', expiresAt: 1, sig: 'A'.repeat(86) + '==' })).toBe('malformed')
    expect(reason({ owner: 'A'.repeat(43) + '=', delegate: 'A'.repeat(43) + '=', scope: FILE, expiresAt: 1, sig: 'A'.repeat(86) + '==', pad: 'x'.repeat(2000) })).toBe('malformed')
  })
})
