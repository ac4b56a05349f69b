import { expect, it } from 'vitest'
import { settlesWithin } from './lifecycle.ts'

it('settlesWithin tells a close that finished (or failed) in time from one that hangs', async () => {
  expect(await settlesWithin(Promise.resolve(), 1000)).toBe(true)
  expect(await settlesWithin(Promise.reject(new Error('refused')), 1000)).toBe(true)
  const t0 = Date.now()
  expect(await settlesWithin(new Promise(() => {}), 50)).toBe(false)
  expect(Date.now() - t0).toBeGreaterThanOrEqual(45)
})
