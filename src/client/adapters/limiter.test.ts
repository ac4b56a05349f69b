import { expect, it } from 'vitest'
import { KeyedLimiter } from './limiter.ts'

it('bounds concurrency per key, queues in order, and lets waiters abort', async () => {
  const limiter = new KeyedLimiter(2)
  const order: number[] = []
  let release!: () => void
  const gate = new Promise<void>(resolve => { release = resolve })
  const task = (n: number) => async () => { order.push(n); await gate; return n }
  const runs = [1, 2, 3, 4].map(async n => await limiter.run('a', undefined, task(n)))
  const other = limiter.run('b', undefined, async () => 'b') // another farmer is not held up
  expect(await other).toBe('b')
  await Promise.resolve()
  expect(limiter.active('a')).toBe(2)
  const ac = new AbortController()
  const aborted = limiter.run('a', ac.signal, task(5))
  ac.abort(new Error('gave up'))
  await expect(aborted).rejects.toThrow('gave up')
  release()
  expect(await Promise.all(runs)).toEqual([1, 2, 3, 4])
  expect(order).toEqual([1, 2, 3, 4])
  expect(limiter.active('a')).toBe(0)
})
