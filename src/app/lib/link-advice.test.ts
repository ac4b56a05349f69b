import { describe, expect, it } from 'vitest'
import { linkAdvice } from './link-advice.ts'

const listed = new Set(['a', 'b', 'c'])
const err = (code: string): { code: string, message: string } => ({ code, message: `sentence for ${code}` })

describe('linkAdvice', () => {
  it('a link whose holders this grid does not list points at another grid, with no Try again', () => {
    const a = linkAdvice(err('MANIFEST_UNAVAILABLE'), ['x', 'y'], listed)
    expect(a).toMatchObject({ otherGrid: true, retry: false })
    expect(a.message).toMatch(/another grid/)
    expect(a.hint).toMatch(/Use another relay/)
  })

  it('holders this grid lists but that did not answer: they may be back later', () => {
    expect(linkAdvice(err('MANIFEST_UNAVAILABLE'), ['x', 'a'], listed)).toMatchObject({ otherGrid: false, retry: true, message: 'sentence for MANIFEST_UNAVAILABLE' })
  })

  it('with no farmer list yet, concludes nothing about the grid', () => {
    expect(linkAdvice(err('MANIFEST_UNAVAILABLE'), ['x'], new Set())).toMatchObject({ otherGrid: false, retry: true })
  })

  it('tampered, malformed and deleted links offer no Try again', () => {
    for (const code of ['AUTHENTICATION_FAILED', 'BAD_CAPABILITY', 'FILE_NOT_FOUND']) expect(linkAdvice(err(code), ['a'], listed).retry).toBe(false)
    expect(linkAdvice(err('OFFLINE'), ['a'], listed).retry).toBe(true)
  })
})
