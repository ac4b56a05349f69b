import { availableParallelism } from 'node:os'
import { Worker } from 'node:worker_threads'
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs'
import { CodecPool, type WorkerHandle } from './pool.ts'
import type { VariantChoice } from './loader.ts'
import type { MerkleEngine } from './service.ts'

export interface NodeCodecPoolInit {
  /** Workers at most. @default availableParallelism() − 1, at least 1 */
  size?: number
  /** Module variant. @default 'auto' (relaxed where supported) */
  variant?: VariantChoice
  /** Who builds Merkle roots in the workers: node:crypto per leaf measured faster in Node. @default 'core' */
  merkle?: MerkleEngine
}

/** A codec pool on worker_threads. Idle workers do not keep the process alive. */
export function createNodeCodecPool (init: NodeCodecPoolInit = {}): CodecPool {
  return new CodecPool({
    size: init.size ?? Math.max(1, availableParallelism() - 1),
    spawn: () => spawnNodeWorker(init.variant ?? 'auto', init.merkle ?? 'core')
  })
}

/** A worker_threads handle; `thread` is the raw `Worker`, for diagnostics and tests. */
export interface NodeWorkerHandle extends WorkerHandle {
  thread: Worker
}

/**
 * The worker's module: the TypeScript source beside this file, or, when this file is part of the
 * bundled CLI (`scripts/build-cli.ts`, where every module shares the bundle's one directory), the
 * bundle's worker entry.
 */
const WORKER_MODULE = import.meta.url.endsWith('.ts') ? new URL('./worker.node.ts', import.meta.url) : new URL('./codec-worker.js', import.meta.url)

const HEAP_FLAG = /^--(max-semi-space-size|min-semi-space-size|max-old-space-size|initial-old-space-size|trace-gc|trace-incremental-marking)/

export function spawnNodeWorker (variant: VariantChoice, merkle: MerkleEngine = 'core'): NodeWorkerHandle {
  // The worker runs a module file: flags meant for the main script's source (e.g. --input-type
  // with --eval) would make it fail to start, so they are not passed on.
  // V8 heap flags (the launcher's sizes, or --trace-gc when profiling) are per process, and Worker
  // refuses to start with them.
  const execArgv = process.execArgv.filter(a => !a.startsWith('--input-type') && a !== '--eval' && a !== '-e' && !HEAP_FLAG.test(a))
  const worker = new Worker(WORKER_MODULE, { workerData: { variant, merkle }, execArgv })
  worker.unref()
  let stopping = false
  let onDeath: (reason: string) => void = () => {}
  worker.on('error', err => { if (!stopping) onDeath(err.message) })
  worker.on('exit', code => { if (!stopping) onDeath(`worker exited with code ${code}`) })
  return {
    thread: worker,
    endpoint: nodeEndpoint(worker),
    onDeath: cb => { onDeath = cb },
    terminate: () => { stopping = true; void worker.terminate() },
    setBusy: busy => { if (busy) worker.ref(); else worker.unref() }
  }
}
