import { describe, expect, it } from 'vitest'
import type { AuditedFragment, AuditOutcome, FarmerRef, FragmentTransport } from '../ports.ts'
import { proveCopies, type CopyToProve } from './proofs.ts'

const hex = (n: number): string => n.toString(16).padStart(64, '0')
const farmer = (name: string): FarmerRef => ({ peerId: name, addrs: [] })

/** An auditor that records each call: single audits by id, batches by their ids. */
function recordingAuditor (verdict: (farmer: string, id: string) => AuditOutcome['verdict'] | 'busy') {
  const calls: string[][] = []
  const one = (f: FarmerRef, x: AuditedFragment): AuditOutcome => {
    const v = verdict(f.peerId, x.id)
    if (v === 'busy') throw Object.assign(new Error('busy'), { code: 'BUSY' })
    return { verdict: v, ms: 1, bytes: 1 }
  }
  return {
    calls,
    audit: async (f: FarmerRef, x: AuditedFragment) => { calls.push([`${f.peerId}:${x.id.slice(-2)}`]); return one(f, x) },
    auditMany: async (f: FarmerRef, xs: readonly AuditedFragment[]) => { calls.push(xs.map(x => `${f.peerId}:${x.id.slice(-2)}`)); return xs.map(x => one(f, x)) }
  }
}

const noTransport = {} as unknown as FragmentTransport

describe('proveCopies', () => {
  it('audits a farmer\'s copies in batches of up to 8 and 16 MiB, one stream each, verdicts in the order given', async () => {
    const copies: CopyToProve[] = [
      ...Array.from({ length: 10 }, (_, i) => ({ farmer: farmer('a'), id: hex(i), root: hex(100 + i), size: 1 << 20 })),
      ...Array.from({ length: 3 }, (_, i) => ({ farmer: farmer('b'), id: hex(20 + i), root: hex(120 + i), size: 6 << 20 }))
    ]
    const auditor = recordingAuditor((f, id) => f === 'a' && id === hex(9) ? 'failed' : 'proven')
    const recorded: Array<[string, boolean]> = []
    const verdicts = await proveCopies({ transport: noTransport, auditor, scores: { record: (p, ok) => { recorded.push([p, ok]) }, trusted: () => true, weight: () => 1 } }, copies)
    expect(verdicts).toEqual([...Array(9).fill('proven'), 'failed', 'proven', 'proven', 'proven'])
    // a: 8 + 2; b: 6 MiB fragments, two fit in 16 MiB, then one alone (a single audit).
    expect(auditor.calls.map(c => c.length).sort()).toEqual([1, 2, 2, 8])
    expect(auditor.calls.find(c => c.length === 8)).toEqual(Array.from({ length: 8 }, (_, i) => `a:0${i}`))
    expect(recorded.filter(([, ok]) => !ok)).toEqual([['a', false]])
    expect(recorded).toHaveLength(13)
  })

  it('a batch a farmer refuses BUSY is asked again; one that never gets through proves nothing either way', async () => {
    let refusals = 0
    const auditor = recordingAuditor(f => f === 'a' && refusals++ < 2 ? 'busy' : f === 'c' ? 'busy' : 'proven')
    const copies: CopyToProve[] = ['a', 'a', 'c', 'c'].map((f, i) => ({ farmer: farmer(f), id: hex(i), root: hex(50 + i), size: 1024 }))
    const verdicts = await proveCopies({ transport: noTransport, auditor }, copies)
    expect(verdicts).toEqual(['proven', 'proven', 'unreachable', 'unreachable'])
  }, 10_000)
})
