/**
 * The keeper: a long-running loop that keeps files healthy without being asked. Each round it
 * audits a sample of the copies of every file it keeps (least recently audited first, within an
 * hourly budget), repairs the files whose segments or manifest fell to the repair threshold
 * (`policy.ts`; manifests first, then by how close a segment is to loss), renews the owner's leases
 * well before farmers drop them, and saves what it learned so a restart resumes. A file given with
 * its owner's delegation (`core/delegation.ts`) is repaired and renewed under the owner's key, as
 * the owner's delegate, so the owner's `rm` reaches every copy. See docs/keeper.md.
 */
import { parseCapability, type Capability } from '../core/capability.ts'
import { checkDelegation, delegatedKey, type Delegation } from '../core/delegation.ts'
import { isAbortError, throwIfAborted, type AbortOptions } from '../core/errors.ts'
import { sha256Hex } from '../core/hash.ts'
import type { Logger } from '../core/logger.ts'
import type { VerifyManifest } from '../core/manifest.ts'
import { fromBase64, ownerKeyFromSeed, type OwnerKey } from '../core/owner-key.ts'
import { manifestCopies } from '../core/placement.ts'
import { normalizePolicy } from '../core/policy.ts'
import { fetchVerifyManifest } from '../client/blocks/open-manifest.ts'
import { proveCopies, type CopyVerdict } from '../client/blocks/proofs.ts'
import { Repair, type RepairPorts } from '../client/ops/repair.ts'
import { renewFiles } from '../client/ops/renew.ts'
import type { OwnedFile } from '../client/owner-index.ts'
import type { FarmerRef } from '../client/ports.ts'
import { copyKey, gone, knownCopies, sample, tally, type FarmerView, type KnownCopy } from './copies.ts'
import { KeeperMetrics, type SegmentState } from './metrics.ts'
import { repairOrder, repairThreshold, segmentStatus, type FileVerdict } from './policy.ts'
import { settleJournal } from './journal.ts'
import type { FileRecord, KeeperState } from './state.ts'
import { ByteBucket, throttledTransport } from './throttle.ts'

/** Seconds between rounds. @default */
export const KEEPER_INTERVAL_MS = 600_000
/** How long a silent farmer's copies still count. @default */
export const KEEPER_GRACE_MS = 3_600_000
/** Audits per hour over all files. @default */
export const KEEPER_AUDITS_PER_HOUR = 3600
/** The farmers' lease the keeper renews within. @default 30 days, the farmers' own default */
export const KEEPER_LEASE_MS = 30 * 24 * 3600_000

/** Options of a `Keeper`. */
export interface KeeperInit {
  /** Time between the start of one round and the next. @default KEEPER_INTERVAL_MS (10 min) */
  intervalMs?: number
  /** A silent farmer's copies count this long before they are repaired elsewhere. @default KEEPER_GRACE_MS (1 h) */
  graceMs?: number
  /** Audits per hour, over all files (unused budget is saved up to one hour's). @default KEEPER_AUDITS_PER_HOUR */
  auditsPerHour?: number
  /** Repair bytes per second, fetched and stored together. @default Infinity (no limit) */
  repairBytesPerSecond?: number
  /** The farmers' lease; leases are renewed when a third of it is left. @default KEEPER_LEASE_MS */
  leaseMs?: number
  log: Logger
  /** @default Date.now */
  now?: () => number
}

/** What a keeper runs on: the client's ports, its state, and this machine's owner index. */
export interface KeeperComponents {
  ports: RepairPorts
  state: KeeperState
  /** The files put from this machine, with their owner keys (read again every round). */
  ownedFiles: () => Promise<OwnedFile[]>
  /** Records where a repair put copies of an owned file, so the owner's `rm` reaches them. */
  addOwnedCopies: (manifestId: string, copies: Array<{ id: string, peer: string }>) => Promise<unknown>
}

/** One file as a round sees it. */
interface KeptFile {
  cap: Capability
  /** The owner's file index entry, when this machine put the file. */
  owned?: OwnedFile
  /** The owner's delegation to this keeper, when the link came with one. */
  delegation?: Delegation
  addedAt: number
}

/** One kept file as `GET /files` shows it. */
export interface KeptFileStatus {
  manifestId: string
  /** Whose key repairs and renews it: the owner's (owner index), the owner's by delegation, or the keeper's own. */
  key: 'owner' | 'delegated' | 'keeper'
  /** When the delegation ends (ms since the epoch), for `key: 'delegated'`. */
  delegationExpiresAt?: number
  /** The newest audit of any of its copies (ms since the epoch); absent: none yet. */
  lastAuditAt?: number
  /**
   * Per segment: fragments whose copies count (proven, or silent within the grace period); of them,
   * those at the positions kept on full farmers (`onFull`, what the repair threshold is measured
   * against: a `mixed` file's light copies only add); the repair threshold; and k.
   */
  segments: Array<{ proven: number, onFull: number, threshold: number, k: number }>
  /** Manifest copies that count. */
  manifestCopies?: number
  /** The last repair this process ran (not kept across restarts). */
  lastRepair?: { at: number, fragmentsStored: number, complete: boolean }
  /** When the last round looked at it; absent when its manifest has not opened yet. */
  checkedAt?: number
}

/** What a round did, for its log line and for tests. */
export interface RoundSummary {
  files: number
  unopened: number
  audits: number
  repaired: number
  renewed: number
  segments: SegmentState[]
}

/** Manifest proofs in flight at once. */
const MANIFEST_PROOF_CONCURRENCY = 8

export class Keeper {
  readonly metrics = new KeeperMetrics()
  readonly #c: KeeperComponents
  readonly #intervalMs: number
  readonly #graceMs: number
  readonly #auditsPerHour: number
  readonly #leaseMs: number
  readonly #log: Logger
  readonly #now: () => number
  readonly #repairPorts: RepairPorts
  #tokens: number
  #tokensAt: number
  #silent: Map<string, number> | undefined
  #ctl = new AbortController()
  #loop: Promise<void> | undefined
  #lastRoundAt: number | undefined
  #wake: (() => void) | undefined
  /** What `files()` shows, one entry per kept file (so bounded like the files). */
  readonly #status = new Map<string, KeptFileStatus>()

  constructor (components: KeeperComponents, init: KeeperInit) {
    this.#c = components
    this.#intervalMs = init.intervalMs ?? KEEPER_INTERVAL_MS
    this.#graceMs = init.graceMs ?? KEEPER_GRACE_MS
    this.#auditsPerHour = init.auditsPerHour ?? KEEPER_AUDITS_PER_HOUR
    this.#leaseMs = init.leaseMs ?? KEEPER_LEASE_MS
    this.#log = init.log
    this.#now = init.now ?? (() => Date.now())
    const rate = init.repairBytesPerSecond ?? Infinity
    const bucket = new ByteBucket(rate)
    this.#repairPorts = {
      ...components.ports,
      transport: throttledTransport(components.ports.transport, bucket, (d, n) => { this.metrics.repairBytes(d, n) })
    }
    // The first round may spend one interval's budget (at least one audit).
    this.#tokens = Math.max(1, this.#auditsPerHour * this.#intervalMs / 3_600_000)
    this.#tokensAt = this.#now()
  }

  /** When the last round ended (ms since the epoch), if one has. */
  get lastRoundAt (): number | undefined { return this.#lastRoundAt }

  /** Runs rounds every `intervalMs` until `stop()`. A round that fails is logged and the next one runs. */
  start (): void {
    if (this.#loop !== undefined) return
    const signal = this.#ctl.signal
    this.#loop = (async () => {
      while (!signal.aborted) {
        const started = this.#now()
        try {
          await this.round({ signal })
        } catch (err) {
          if (signal.aborted && isAbortError(err)) break
          this.#log.error('round failed', { err })
        }
        const wait = Math.max(0, started + this.#intervalMs - this.#now())
        await new Promise<void>(resolve => {
          const timer = setTimeout(resolve, wait)
          this.#wake = () => { clearTimeout(timer); resolve() }
          signal.addEventListener('abort', () => { clearTimeout(timer); resolve() }, { once: true })
        })
      }
    })()
  }

  /** Starts the next round now when the loop is waiting (e.g. a file was just given to keep). */
  wake (): void {
    const wake = this.#wake
    this.#wake = undefined
    wake?.()
  }

  /** Each kept file as the last round saw it, in manifest id order. */
  files (): KeptFileStatus[] {
    return [...this.#status.values()].sort((a, b) => (a.manifestId < b.manifestId ? -1 : 1)).map(s => structuredClone(s))
  }

  /** Stops the loop: the round in flight is aborted (a repair's copies already placed stay recorded). */
  async stop (): Promise<void> {
    this.#ctl.abort()
    await this.#loop
  }

  /** One round: audit a sample, repair what fell to its threshold, renew what is due, save. */
  async round (options: AbortOptions = {}): Promise<RoundSummary> {
    const { signal } = options
    const { state } = this.#c
    this.#silent ??= await state.silentFarmers()
    const now = this.#now()
    this.#tokens = Math.min(Math.max(1, this.#auditsPerHour), this.#tokens + this.#auditsPerHour * (now - this.#tokensAt) / 3_600_000)
    this.#tokensAt = now

    const files = await this.#files()
    const listed = new Map((await this.#c.ports.directory.list(options).catch(() => [])).map(f => [f.peerId, f]))
    // Open every manifest (a verify link is enough) and gather the copies known of each file.
    const opened: Array<{ file: KeptFile, manifest: VerifyManifest, resolve: (p: string) => FarmerRef, record: FileRecord, copies: KnownCopy[] }> = []
    let unopened = 0
    for (const file of files) {
      throwIfAborted(signal)
      try {
        const o = await fetchVerifyManifest(this.#c.ports, file.cap, options)
        const record = await state.file(file.cap.manifestId)
        if (record.pending !== undefined) await this.#settle(file, o.manifest, record, p => listed.get(p) ?? o.resolve(p), options)
        const copies = knownCopies(file.cap.manifestId, o.manifest, file.cap.holders, [...record.copies, ...file.owned?.copies ?? []])
        // Audits of copies no longer known (a holder list that changed) are forgotten.
        const keys = new Set(copies.map(copyKey))
        for (const k of Object.keys(record.audits)) if (!keys.has(k)) delete record.audits[k]
        opened.push({ file, manifest: o.manifest, resolve: p => listed.get(p) ?? o.resolve(p), record, copies })
      } catch (err) {
        if (isAbortError(err) && signal?.aborted === true) throw err
        unopened++
        this.#log.warn('manifest did not open', { manifestId: file.cap.manifestId, err })
      }
    }

    // Audit a sample within the budget, and learn which farmers answer.
    const records = new Map(opened.map(o => [o.file.cap.manifestId, o.record]))
    const resolveOf = new Map(opened.map(o => [o.file.cap.manifestId, o.resolve]))
    const view = (): FarmerView => ({ silent: this.#silent!, now: this.#now(), graceMs: this.#graceMs })
    const chosen = sample(opened.flatMap(o => o.copies), records, view(), this.#tokens)
    this.#tokens -= chosen.length
    const verdicts = await this.#audit(chosen, c => resolveOf.get(c.manifestId)!(c.peer), options)
    const at = this.#now()
    chosen.forEach((c, i) => {
      const verdict = verdicts[i]!
      records.get(c.manifestId)!.audits[copyKey(c)] = { at, verdict }
      this.metrics.audit(verdict)
    })
    this.#noteFarmers(chosen, verdicts, at)

    // Repair what fell to its threshold: manifests first, then the segments closest to loss.
    const v = view()
    const byId = new Map(opened.map(o => [o.file.cap.manifestId, o]))
    const judged: FileVerdict[] = opened.map(o => {
      const policy = normalizePolicy(o.manifest.policy)
      const t = tally(o.manifest, o.copies, o.record, v, policy.onFull)
      return { manifestId: o.file.cap.manifestId, k: policy.k, m: policy.m, repairAt: policy.repairAt, segments: t.segments, onFull: t.onFull, manifestCopies: t.manifestCopies, manifestWant: manifestCopies(policy) }
    })
    this.#noteStatus(files, opened, judged)
    let repaired = 0
    const healed = new Set<string>()
    for (const verdict of repairOrder(judged)) {
      throwIfAborted(signal)
      const o = byId.get(verdict.manifestId)!
      if (await this.#repair(o.file, o.record, verdict, options)) healed.add(verdict.manifestId)
      repaired++
    }

    const renewed = await this.#renew(opened.map(o => ({ file: o.file, record: o.record, manifest: o.manifest, resolve: o.resolve })), options)
    for (const o of opened) await state.saveFile(o.file.cap.manifestId, o.record)
    await state.saveSilentFarmers(this.#silent)

    const segments = judged.flatMap(j => healed.has(j.manifestId) ? j.segments.map(() => 'healthy' as const) : j.segments.map(n => segmentStatus(n, j.k, j.m)))
    const silentNow = [...this.#silent.keys()]
    this.metrics.round({ files: files.length, unopened, segments, silent: silentNow.length, gone: silentNow.filter(p => gone(view(), p)).length })
    this.#lastRoundAt = this.#now()
    const summary: RoundSummary = { files: files.length, unopened, audits: chosen.length, repaired, renewed, segments }
    this.#log.info('round', { ...summary, segments: this.metrics.snapshot().segments, silentFarmers: silentNow.length })
    return summary
  }

  /** The owner index's files and the kept links (the index's entry wins: it has the owner key). */
  async #files (): Promise<KeptFile[]> {
    const out = new Map<string, KeptFile>()
    for (const owned of await this.#c.ownedFiles()) {
      try {
        const cap = parseCapability(owned.link)
        out.set(cap.manifestId, { cap, owned, addedAt: owned.createdAt })
      } catch (err) {
        this.#log.warn('owner index entry has no valid link', { manifestId: owned.manifestId, err })
      }
    }
    for (const kept of await this.#c.state.kept()) {
      try {
        const cap = parseCapability(kept.link)
        if (out.has(cap.manifestId)) continue
        const delegation = await this.#c.state.delegation(cap.manifestId)
        out.set(cap.manifestId, { cap, addedAt: kept.addedAt, ...(delegation !== undefined ? { delegation } : {}) })
      } catch (err) {
        this.#log.warn('kept link is not valid', { err })
      }
    }
    return [...out.values()]
  }

  /** Proves `copies`: fragments by audit, manifests by a GET that hashes to their id. */
  async #audit (copies: readonly KnownCopy[], resolve: (c: KnownCopy) => FarmerRef, options: AbortOptions): Promise<CopyVerdict[]> {
    const out: CopyVerdict[] = new Array(copies.length)
    const fragments = copies.map((c, i) => [c, i] as const).filter(([c]) => c.segment >= 0)
    const manifests = copies.map((c, i) => [c, i] as const).filter(([c]) => c.segment < 0)
    const proofs = proveCopies(this.#c.ports, fragments.map(([c]) => ({ farmer: resolve(c), id: c.id, size: c.size, ...(c.root !== undefined ? { root: c.root } : {}) })), options)
    let next = 0
    const worker = async (): Promise<void> => {
      while (next < manifests.length) {
        const [c, i] = manifests[next++]!
        out[i] = await this.#c.ports.transport.get(resolve(c), c.id, options).then(
          async bytes => await sha256Hex(bytes) === c.id ? 'proven' as const : 'failed' as const,
          (err: { code?: string }) => err.code === 'NOT_FOUND' ? 'missing' as const : err.code === 'HASH_MISMATCH' ? 'failed' as const : 'unreachable' as const)
      }
    }
    await Promise.all(Array.from({ length: Math.min(MANIFEST_PROOF_CONCURRENCY, manifests.length) }, worker))
    const fv = await proofs
    fragments.forEach(([, i], j) => { out[i] = fv[j]! })
    throwIfAborted(options.signal) // an aborted proof reads as unreachable: never act on those
    return out
  }

  /** A farmer that answered any audit is not silent; one that answered none is, from now on if not already. */
  #noteFarmers (copies: readonly KnownCopy[], verdicts: readonly CopyVerdict[], at: number): void {
    const answered = new Set<string>()
    const silentNow = new Set<string>()
    copies.forEach((c, i) => { if (verdicts[i] === 'unreachable') silentNow.add(c.peer); else answered.add(c.peer) })
    for (const peer of answered) {
      const since = this.#silent!.get(peer)
      if (since !== undefined) {
        this.#silent!.delete(peer)
        this.#log.info('farmer back', { peer, silentMs: at - since })
      }
    }
    for (const peer of silentNow) {
      if (answered.has(peer) || this.#silent!.has(peer)) continue
      this.#silent!.set(peer, at)
      this.#log.info('farmer silent', { peer, graceMs: this.#graceMs })
    }
  }

  /** Repairs one file; true when every segment has all its fragments again. */
  async #repair (file: KeptFile, record: FileRecord, verdict: FileVerdict, options: AbortOptions): Promise<boolean> {
    const owner = await this.#keyOf(file)
    this.#log.info('repairing', { manifestId: verdict.manifestId, segments: verdict.segments, manifestCopies: verdict.manifestCopies, key: owner.kind })
    try {
      // Every copy is journaled before its PUT: a keeper killed mid-repair settles it next time.
      const onPlacing = async (c: { id: string, peer: string }): Promise<void> => { await this.#c.state.journal(verdict.manifestId, record, c, this.#now()) }
      const r = await new Repair(this.#repairPorts, file.cap, owner.key, { onPlacing }).run(options)
      const at = this.#now()
      const st = this.#status.get(verdict.manifestId)
      if (st !== undefined) st.lastRepair = { at, fragmentsStored: r.fragmentsStored, complete: r.lost.length === 0 && r.short.length === 0 }
      for (const p of r.placed) {
        record.copies.push({ id: p.id, peer: p.peer })
        record.audits[copyKey(p)] = { at, verdict: 'proven' } // `Repair` counts a copy only once its farmer proved it
      }
      const placed = new Set(r.placed.map(copyKey))
      const left = record.pending?.filter(p => !placed.has(copyKey(p))) ?? [] // PUTs that failed: settled next round
      if (left.length > 0) record.pending = left
      else delete record.pending
      // A fresh claim has a whole lease: the keeper's own claims are renewed from now on.
      if (file.owned === undefined && owner.kind === 'keeper' && r.placed.length > 0) record.renewedAt ??= at
      if (file.owned !== undefined && r.placed.length > 0) await this.#c.addOwnedCopies(file.owned.manifestId, r.placed)
      const complete = r.lost.length === 0 && r.short.length === 0
      this.metrics.repaired({ fragmentsStored: r.fragmentsStored, manifestCopiesStored: r.manifestCopiesStored, complete })
      this.#log.info('repaired', { manifestId: verdict.manifestId, fragmentsStored: r.fragmentsStored, manifestCopiesStored: r.manifestCopiesStored, short: r.short, lost: r.lost })
      return complete
    } catch (err) {
      if (isAbortError(err) && options.signal?.aborted === true) throw err
      this.metrics.repaired({ fragmentsStored: 0, manifestCopiesStored: 0, complete: false })
      this.#log.warn('repair failed', { manifestId: verdict.manifestId, err })
      return false
    }
  }

  /**
   * Renews the leases of files whose last renewal (or upload) is two thirds of a lease ago: the
   * owner's files through `renewFiles` (one signed RENEW per farmer and owner key), and the copies
   * repairs placed outside the manifest's holders, batched per farmer and key.
   */
  async #renew (files: Array<{ file: KeptFile, record: FileRecord, manifest: VerifyManifest, resolve: (p: string) => FarmerRef }>, options: AbortOptions): Promise<number> {
    const now = this.#now()
    const due = files.filter(({ file, record }) => {
      // A delegated file is renewed on its first round: when the owner last renewed is unknown here.
      if (record.renewedAt === undefined && this.#usableDelegation(file) !== undefined) return true
      const since = record.renewedAt ?? (file.owned !== undefined ? file.owned.createdAt : undefined)
      return since !== undefined && now - since >= this.#leaseMs * 2 / 3
    })
    if (due.length === 0) return 0
    let renewed = 0
    const bySeed = new Map<string, Capability[]>()
    const placed = new Map<string, { owner: string | undefined, peer: string, ids: Set<string> }>()
    // Files kept by delegation: every copy of the owner's (the manifest's holders and the repairs'), renewed as its delegate.
    const delegated = new Map<string, { key: OwnerKey, ref: FarmerRef, ids: Set<string> }>()
    const delegate = await this.#c.state.delegateKey()
    for (const { file, record, manifest, resolve } of due) {
      const d = file.owned === undefined ? this.#usableDelegation(file) : undefined
      if (d !== undefined) {
        const key = delegatedKey(delegate, d)
        const add = (peer: string, id: string): void => {
          const k = `${d.owner} ${peer}`
          const entry = delegated.get(k) ?? { key, ref: resolve(peer), ids: new Set<string>() }
          entry.ids.add(id)
          delegated.set(k, entry)
        }
        manifest.segments.forEach(seg => seg.fragments.forEach((id, i) => { for (const h of seg.holders[i] ?? []) add(h, id) }))
        for (const h of file.cap.holders) add(h, file.cap.manifestId)
        for (const c of record.copies) add(c.peer, c.id)
        continue
      }
      const seed = file.owned?.ownerSeed
      if (seed !== undefined) bySeed.set(seed, [...bySeed.get(seed) ?? [], file.cap])
      for (const c of [...record.copies, ...file.owned?.copies ?? []]) {
        const k = `${seed ?? ''} ${c.peer}`
        const entry = placed.get(k) ?? { owner: seed, peer: c.peer, ids: new Set<string>() }
        entry.ids.add(c.id)
        placed.set(k, entry)
      }
    }
    for (const [seed, caps] of bySeed) {
      const r = await renewFiles(this.#c.ports, caps, await ownerKeyFromSeed(fromBase64(seed)), options)
      renewed += r.renewed
      this.metrics.renewals(r.renewed, r.notRenewed)
    }
    const keeperKey = await this.#c.state.ownerKey()
    const listed = new Map((await this.#c.ports.directory.list(options).catch(() => [])).map(f => [f.peerId, f]))
    for (const { owner, peer, ids } of placed.values()) {
      const key = owner !== undefined ? await ownerKeyFromSeed(fromBase64(owner)) : keeperKey
      try {
        const bits = await this.#c.ports.transport.renew(listed.get(peer) ?? { peerId: peer, addrs: [] }, [...ids], key, options)
        const ok = bits.filter(Boolean).length
        renewed += ok
        this.metrics.renewals(ok, bits.length - ok)
      } catch (err) {
        if (isAbortError(err) && options.signal?.aborted === true) throw err
      }
    }
    for (const { key, ref, ids } of delegated.values()) {
      try {
        const bits = await this.#c.ports.transport.renew(listed.get(ref.peerId) ?? ref, [...ids], key, options)
        const ok = bits.filter(Boolean).length
        renewed += ok
        this.metrics.renewals(ok, bits.length - ok)
      } catch (err) {
        if (isAbortError(err) && options.signal?.aborted === true) throw err
        this.#log.warn('delegated renewal failed', { peer: ref.peerId, err })
      }
    }
    for (const { record } of due) record.renewedAt = now
    this.#log.info('renewed', { files: due.length, claims: renewed })
    return renewed
  }

  /** The file's delegation while it is valid for another minute; undefined otherwise (the keeper then uses its own key). */
  #usableDelegation (file: KeptFile): Delegation | undefined {
    const d = file.delegation
    return d !== undefined && d.expiresAt > this.#now() + 60_000 ? d : undefined
  }

  /** Settles the repair journal a killed keeper (or a failed PUT) left: adopts proven copies, withdraws the other claims. */
  async #settle (file: KeptFile, manifest: VerifyManifest, record: FileRecord, resolve: (p: string) => FarmerRef, options: AbortOptions): Promise<void> {
    const s = await settleJournal(this.#c.ports, file.cap.manifestId, manifest, record, resolve, (await this.#keyOf(file)).key,
      { now: this.#now(), leaseMs: this.#leaseMs }, options)
    if (file.owned !== undefined && s.adopted.length > 0) await this.#c.addOwnedCopies(file.owned.manifestId, s.adopted)
    await this.#c.state.saveFile(file.cap.manifestId, record)
    this.#log.info('journal settled', { manifestId: file.cap.manifestId, adopted: s.adopted.length, withdrawn: s.withdrawn.length, left: s.left })
  }

  /**
   * The key a repair of `file` claims with: the owner's when this machine put it; the owner's by
   * delegation while one is valid (checked again here: it may have expired since it was given);
   * else the keeper's own, as before delegations existed.
   */
  async #keyOf (file: KeptFile): Promise<{ key: OwnerKey, kind: KeptFileStatus['key'] }> {
    if (file.owned !== undefined) return { key: await ownerKeyFromSeed(fromBase64(file.owned.ownerSeed)), kind: 'owner' }
    const d = this.#usableDelegation(file)
    if (d !== undefined) {
      const delegate = await this.#c.state.delegateKey()
      try {
        await checkDelegation(d, { delegate: delegate.publicKey, manifestId: file.cap.manifestId, now: this.#now() })
        return { key: delegatedKey(delegate, d), kind: 'delegated' }
      } catch (err) {
        this.#log.warn('delegation no longer valid: repairing with the keeper\'s own key', { manifestId: file.cap.manifestId, err })
      }
    }
    return { key: await this.#c.state.ownerKey(), kind: 'keeper' }
  }

  /** Refreshes what `files()` shows from a round's view; files no longer kept are dropped. */
  #noteStatus (files: readonly KeptFile[], opened: ReadonlyArray<{ file: KeptFile, record: FileRecord }>, judged: readonly FileVerdict[]): void {
    const ids = new Set(files.map(f => f.cap.manifestId))
    for (const id of this.#status.keys()) if (!ids.has(id)) this.#status.delete(id)
    const now = this.#now()
    for (const file of files) {
      const id = file.cap.manifestId
      const d = file.owned === undefined ? this.#usableDelegation(file) : undefined
      const prev = this.#status.get(id)
      this.#status.set(id, {
        manifestId: id,
        key: file.owned !== undefined ? 'owner' : d !== undefined ? 'delegated' : 'keeper',
        ...(d !== undefined ? { delegationExpiresAt: d.expiresAt } : {}),
        segments: prev?.segments ?? [],
        ...(prev?.lastRepair !== undefined ? { lastRepair: prev.lastRepair } : {}),
        ...(prev?.lastAuditAt !== undefined ? { lastAuditAt: prev.lastAuditAt } : {}),
        ...(prev?.manifestCopies !== undefined ? { manifestCopies: prev.manifestCopies } : {}),
        ...(prev?.checkedAt !== undefined ? { checkedAt: prev.checkedAt } : {})
      })
    }
    const verdicts = new Map(judged.map(j => [j.manifestId, j]))
    for (const o of opened) {
      const st = this.#status.get(o.file.cap.manifestId)
      const j = verdicts.get(o.file.cap.manifestId)
      if (st === undefined || j === undefined) continue
      const audits = Object.values(o.record.audits).map(a => a.at)
      if (audits.length > 0) st.lastAuditAt = Math.max(...audits)
      const threshold = j.repairAt ?? repairThreshold(j.k, j.m)
      st.segments = j.segments.map((proven, s) => ({ proven, onFull: j.onFull?.[s] ?? proven, threshold, k: j.k }))
      st.manifestCopies = j.manifestCopies
      st.checkedAt = now
    }
  }
}
