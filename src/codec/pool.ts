import { wrap, transfer, releaseProxy, type Endpoint, type Remote } from 'comlink'
import { AbortError, type AbortOptions } from '../core/errors.ts'
import { WorkerCrashedError } from './errors.ts'
import type { CodecService, CodecVariantName } from './service.ts'

/** A started worker, as the platform wiring (`pool.node.ts`, `pool.browser.ts`) hands it over. */
export interface WorkerHandle {
  /** The comlink endpoint to the worker. */
  endpoint: Endpoint
  /** Registers the one callback to run when the worker dies for any reason but `terminate()`. */
  onDeath(cb: (reason: string) => void): void
  /** Stops the worker now, whatever it is doing. */
  terminate(): void
  /** Lets an idle worker not keep the process alive (Node); a no-op in browsers. */
  setBusy?(busy: boolean): void
}

export interface CodecPoolInit {
  /** Starts one worker. */
  spawn: () => WorkerHandle
  /** Most workers at once. @default available cores − 1, at least 1 (set by the wiring) */
  size: number
}

/** Aborting rejects the job with `AbortError`; a running job's worker is terminated and replaced. */
export type JobOptions = AbortOptions

interface Slot {
  handle: WorkerHandle
  remote: Remote<CodecService>
  job?: Job
  dead: boolean
}

interface Job {
  run: (remote: Remote<CodecService>) => Promise<unknown>
  resolve: (v: unknown) => void
  reject: (e: unknown) => void
  signal?: AbortSignal
  onAbort?: () => void
  settled: boolean
}

/**
 * A lazy pool of codec workers. Workers start on the first jobs that need them, one job runs per
 * worker at a time, and extra jobs wait in FIFO order. Buffers move to the worker and back by
 * transfer: after a call the caller's input view is detached and the result carries the bytes.
 *
 * A worker that dies mid-job fails that job with `WorkerCrashedError` (comlink alone would wait
 * forever) and is replaced for the next one.
 */
export class CodecPool {
  readonly size: number
  readonly #spawn: () => WorkerHandle
  readonly #slots: Slot[] = []
  readonly #queue: Job[] = []
  #closed = false

  constructor (init: CodecPoolInit) {
    this.size = Math.max(1, Math.floor(init.size))
    this.#spawn = init.spawn
  }

  /** Workers running now (they start lazily). */
  get workers (): number {
    return this.#slots.length
  }

  /** Jobs waiting for a free worker. */
  get queued (): number {
    return this.#queue.length
  }

  /**
   * Starts a worker, and its wasm module, if none is up or starting, so that a caller that will
   * need the codec after some network round trips does not wait for the start-up then (about a
   * quarter of a second in Node). Never throws; a no-op once the pool is terminated.
   */
  warm (): void {
    if (this.#closed || this.#slots.length > 0 || this.#queue.length > 0) return
    this.variant().catch(() => undefined)
  }

  /** The module variant the workers run (starts a worker if none is up). */
  async variant (options?: JobOptions): Promise<CodecVariantName> {
    return await this.#submit(async r => await r.variant(), options)
  }

  /**
   * Encodes one segment of k data shards of equal length, given back to back in `data`. Returns
   * the data (the same bytes; `data` itself is detached by the transfer) and the m parity shards.
   */
  async encode (k: number, m: number, data: Uint8Array, options?: JobOptions): Promise<{ data: Uint8Array, parity: Uint8Array }> {
    const len = shardLength(data.byteLength, k)
    const buf = ownBuffer(data)
    const r = await this.#submit(async remote => await remote.encode(k, m, len, transfer(buf, [buf])), options)
    return { data: new Uint8Array(r.data), parity: new Uint8Array(r.parity) }
  }

  /**
   * Fills the m parity shards of `shards` (k + m back to back, the k data shards filled) and returns
   * them: the same bytes, in a new view (`shards` itself is detached by the transfer).
   */
  async encodeShards (k: number, m: number, shards: Uint8Array, options?: JobOptions): Promise<Uint8Array> {
    const len = shardLength(shards.byteLength, k + m)
    const buf = ownBuffer(shards)
    const r = await this.#submit(async remote => await remote.encodeShards(k, m, len, transfer(buf, [buf])), options)
    return new Uint8Array(r)
  }

  /**
   * `encodeShards`, plus each shard's id (SHA-256) and, with `roots`, its Merkle root, computed in
   * the worker while it holds the shards (see `CodecService.encodeShardsWithDigests`).
   */
  async encodeShardsWithDigests (k: number, m: number, shards: Uint8Array, roots: boolean, options?: JobOptions): Promise<{ shards: Uint8Array, ids: string[], roots: string[] }> {
    const len = shardLength(shards.byteLength, k + m)
    const buf = ownBuffer(shards)
    const r = await this.#submit(async remote => await remote.encodeShardsWithDigests(k, m, len, transfer(buf, [buf]), roots), options)
    return { shards: new Uint8Array(r.shards), ids: r.ids, roots: r.roots }
  }

  /** Rebuilds the shards marked absent in `present`; `shards` holds all k + m back to back. */
  async reconstruct (k: number, m: number, shards: Uint8Array, present: boolean[], options?: JobOptions & { dataOnly?: boolean }): Promise<Uint8Array> {
    const len = shardLength(shards.byteLength, k + m)
    const buf = ownBuffer(shards)
    const dataOnly = options?.dataOnly === true
    const r = await this.#submit(async remote => await remote.reconstruct(k, m, len, transfer(buf, [buf]), present, dataOnly), options)
    return new Uint8Array(r)
  }

  /** Checks that the parity in `shards` (k + m back to back) matches the data. */
  async verify (k: number, m: number, shards: Uint8Array, options?: JobOptions): Promise<{ valid: boolean, shards: Uint8Array }> {
    const len = shardLength(shards.byteLength, k + m)
    const buf = ownBuffer(shards)
    const r = await this.#submit(async remote => await remote.verify(k, m, len, transfer(buf, [buf])), options)
    return { valid: r.valid, shards: new Uint8Array(r.shards) }
  }

  /** Stops every worker; waiting and running jobs fail with `AbortError`. */
  terminate (): void {
    this.#closed = true
    for (const job of this.#queue.splice(0)) this.#settle(job, new AbortError('The codec pool was terminated'))
    for (const slot of this.#slots.splice(0)) {
      slot.dead = true
      if (slot.job !== undefined) this.#settle(slot.job, new AbortError('The codec pool was terminated'))
      slot.remote[releaseProxy]()
      slot.handle.terminate()
    }
  }

  async #submit<T> (run: (remote: Remote<CodecService>) => Promise<T>, options?: JobOptions): Promise<T> {
    if (this.#closed) throw new AbortError('The codec pool was terminated')
    const signal = options?.signal
    if (signal?.aborted === true) throw new AbortError()
    return await new Promise<T>((resolve, reject) => {
      const job: Job = { run, resolve: resolve as (v: unknown) => void, reject, settled: false }
      if (signal !== undefined) {
        job.signal = signal
        job.onAbort = () => this.#abort(job)
        signal.addEventListener('abort', job.onAbort, { once: true })
      }
      this.#queue.push(job)
      this.#dispatch()
    })
  }

  #dispatch (): void {
    while (this.#queue.length > 0 && !this.#closed) {
      let slot = this.#slots.find(s => s.job === undefined)
      if (slot === undefined) {
        if (this.#slots.length >= this.size) return
        slot = this.#start()
      }
      const job = this.#queue.shift() as Job
      this.#run(slot, job)
    }
  }

  #start (): Slot {
    const handle = this.#spawn()
    const slot: Slot = { handle, remote: wrap<CodecService>(handle.endpoint), dead: false }
    handle.onDeath(reason => {
      if (slot.dead) return
      slot.dead = true
      this.#remove(slot)
      if (slot.job !== undefined) this.#settle(slot.job, new WorkerCrashedError(reason))
      this.#dispatch()
    })
    this.#slots.push(slot)
    return slot
  }

  #run (slot: Slot, job: Job): void {
    slot.job = job
    slot.handle.setBusy?.(true)
    job.run(slot.remote).then(
      v => this.#settle(job, undefined, v),
      e => this.#settle(job, e)
    ).finally(() => {
      if (slot.job === job) slot.job = undefined
      if (!slot.dead) slot.handle.setBusy?.(false)
      this.#dispatch()
    })
  }

  #abort (job: Job): void {
    if (job.settled) return
    const queued = this.#queue.indexOf(job)
    if (queued >= 0) this.#queue.splice(queued, 1)
    const slot = this.#slots.find(s => s.job === job)
    this.#settle(job, new AbortError())
    if (slot !== undefined) {
      // wasm cannot be interrupted from outside, so the only way to stop the work is to stop the
      // worker. The next job gets a fresh one.
      slot.dead = true
      slot.job = undefined
      this.#remove(slot)
      slot.handle.terminate()
      this.#dispatch()
    }
  }

  #remove (slot: Slot): void {
    const i = this.#slots.indexOf(slot)
    if (i >= 0) this.#slots.splice(i, 1)
  }

  #settle (job: Job, err: unknown, value?: unknown): void {
    if (job.settled) return
    job.settled = true
    if (job.onAbort !== undefined) job.signal?.removeEventListener('abort', job.onAbort)
    if (err !== undefined) job.reject(err)
    else job.resolve(value)
  }
}

function shardLength (bytes: number, shards: number): number {
  if (!Number.isInteger(shards) || shards < 1 || bytes === 0 || bytes % shards !== 0) {
    throw new RangeError(`${bytes} bytes cannot be split into ${shards} equal non-empty shards`)
  }
  return bytes / shards
}

/** The view's bytes as a whole ArrayBuffer that can be transferred (copied only if it is a slice). */
function ownBuffer (view: Uint8Array): ArrayBuffer {
  const b = view.buffer
  if (b instanceof ArrayBuffer && view.byteOffset === 0 && view.byteLength === b.byteLength) return b
  return view.slice().buffer
}
