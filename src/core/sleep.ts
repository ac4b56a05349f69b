/** Waiting that an abort ends early. Platform-neutral. */
import { AbortError } from './errors.ts'

/** Resolves after `ms`; rejects with `AbortError` as soon as `signal` aborts (at once if it already has). */
export async function sleep (ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted === true) throw new AbortError()
  await new Promise<void>((resolve, reject) => {
    const done = (): void => { signal?.removeEventListener('abort', stop); resolve() }
    const timer = setTimeout(done, ms)
    const stop = (): void => { clearTimeout(timer); reject(new AbortError()) }
    signal?.addEventListener('abort', stop, { once: true })
  })
}
