import { expect, it } from 'vitest'
import { settlesWithin } from './lifecycle.ts'

it('settlesWithin tells a close that finished (or failed) in time from one that hangs', async () => {
  expect(await settlesWithin(Promise.resolve(), 1000)).toBe(true)
  expect(await settlesWithin(Promise.reject(new Error('refused')), 1000)).toBe(true)
  const t0 = Date.now()
  expect(await settlesWithin(new Promise(() => {}), 50)).toBe(false)
  expect(Date.now() - t0).toBeGreaterThanOrEqual(45)
})

it('exitWhenFlushed ends a process that something still holds open, after its stdout is delivered in full', async () => {
  const { spawn } = await import('node:child_process')
  const lifecycle = new URL('./lifecycle.ts', import.meta.url).href
  // A timer stands in for the sockets that linger after libp2p stops; 8 MiB on stdout to a reader
  // that starts late is more than the pipe holds, so the writes are still queued when it is called.
  const script = `import { exitWhenFlushed } from ${JSON.stringify(lifecycle)}
    setTimeout(() => {}, 60_000)
    process.exitCode = 3
    process.stdout.write(Buffer.alloc(8 << 20, 7))
    await exitWhenFlushed()`
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] })
  const t0 = Date.now()
  child.stdout.pause()
  await new Promise(resolve => setTimeout(resolve, 300))
  let received = 0
  child.stdout.on('data', (b: Buffer) => { received += b.length })
  child.stdout.resume()
  const code = await new Promise<number | null>(resolve => child.on('close', resolve))
  expect(received).toBe(8 << 20)
  expect(code).toBe(3)
  expect(Date.now() - t0).toBeLessThan(30_000) // not the 60 s the timer would have held it
})
