import { CodecPool, type WorkerHandle } from './pool.ts'
import type { VariantChoice } from './loader.ts'

export interface BrowserCodecPoolInit {
  /** Workers at most. @default navigator.hardwareConcurrency − 1, at least 1 */
  size?: number
  /** Module variant. @default 'auto' (relaxed where supported) */
  variant?: VariantChoice
}

/** A codec pool on Web Workers. */
export function createBrowserCodecPool (init: BrowserCodecPoolInit = {}): CodecPool {
  return new CodecPool({
    size: init.size ?? Math.max(1, (navigator.hardwareConcurrency ?? 2) - 1),
    spawn: () => spawnWebWorker(init.variant ?? 'auto')
  })
}

function spawnWebWorker (variant: VariantChoice): WorkerHandle {
  // The literal `new Worker(new URL(...))` form is what lets Vite bundle the worker; the variant
  // travels in the worker's name.
  const worker = new Worker(new URL('./worker.browser.ts', import.meta.url), { type: 'module', name: `shardfarm-codec:${variant}` })
  let onDeath: (reason: string) => void = () => {}
  // A Web Worker reports a failed script or an uncaught error this way; it has no exit event.
  worker.addEventListener('error', e => { e.preventDefault(); onDeath(e.message || 'worker error') })
  return {
    endpoint: worker,
    onDeath: cb => { onDeath = cb },
    terminate: () => worker.terminate()
  }
}
