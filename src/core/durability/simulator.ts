import { EventKind, EventQueue } from './event-queue.ts'
import { DurabilityModelError, HOURS_PER_YEAR, REPAIR_MIB_PER_SECOND, type ModelParams, type ModelPolicy } from './params.ts'
import { Rng, weibullScaleForMean } from './rng.ts'

/**
 * The seeded discrete-event simulator: one grid of full and light farmers over years, and many
 * segments of one policy placed on it, each fragment on a distinct farmer. Farmers are shared
 * across segments, so a death or a regional failure hits every segment it holds at once.
 *
 * What the keeper knows lags what is true: a fragment stops counting only when its farmer has
 * failed audits past the grace period, and counts again when the farmer comes back with it
 * (Carbonite, NSDI'06). A segment is lost when fewer than k of its fragments still exist; it is
 * then counted and placed afresh, so that every run measures a steady loss rate.
 */
export interface SimOptions {
  /** Full farmers (replaced as they die, so the number stays). */
  fullFarmers: number
  /** Light farmers (browsers; replaced as they leave). */
  lightFarmers: number
  /** Segments of the policy. */
  segments: number
  /** Simulated years, counted after the warm-up. */
  years: number
  /**
   * Years simulated first and not counted: a grid that starts with every segment complete loses
   * less than it will once repairs are under way. @default 0
   */
  warmupYears?: number
  /** RNG seed: the same seed gives the same figures. */
  seed: number
  /** Called now and then with the fraction of simulated time done. */
  onProgress?: (fraction: number) => void
}

/** What a run measured. */
export interface SimResult {
  /** Segment-years of exposure. */
  segmentYears: number
  /** Segments lost (fewer than k fragments left anywhere). */
  losses: number
  /** Time segments spent with fewer than k fragments online, over all segment time. */
  unavailability: number
  /** Repairs done. */
  repairs: number
  /** Fragments rebuilt. */
  rebuiltFragments: number
  /** Fragment traffic of repairs (k fetched + rebuilt uploaded), MiB. */
  repairTrafficMiB: number
  /** Data stored (k shards a segment), MiB. */
  storedMiB: number
}

interface Farmer {
  light: boolean
  dead: boolean
  online: boolean
  /** The keeper treats it as gone. */
  declared: boolean
  /** Bumped on every change of reachability, so that stale audit events are dropped. */
  epoch: number
  auditPhase: number
  /** Slot keys (segment · 256 + slot) of the fragments it holds. */
  holds: Set<number>
}

interface Segment {
  holders: Int32Array
  proven: Uint8Array
  exists: number
  online: number
  provenFull: number
  provenLight: number
  repairPending: boolean
  /** Bumped when the segment is placed afresh: drops its old repair events. */
  token: number
  /** When it fell below k fragments online, or −1. */
  downSince: number
}

const RETRY_HOURS = 1
const PLACEMENT_TRIES = 64

/** Runs the simulator for one policy. Pure: no I/O, deterministic for a seed. */
export function simulate (policy: ModelPolicy, params: ModelParams, opts: SimOptions): SimResult {
  const { k, m, light: L, threshold } = policy
  const nFull = k + m
  const n = nFull + L
  if (!(Number.isInteger(opts.fullFarmers) && opts.fullFarmers >= nFull + 1)) throw new DurabilityModelError(`${policy.name} needs more than ${nFull} full farmers, got ${opts.fullFarmers}`)
  if (L > 0 && !(Number.isInteger(opts.lightFarmers) && opts.lightFarmers >= 4 * L)) throw new DurabilityModelError(`${policy.name} needs at least ${4 * L} light farmers, got ${opts.lightFarmers}`)
  if (!(opts.fullFarmers <= 100_000 && opts.lightFarmers <= 100_000)) throw new DurabilityModelError('at most 100 000 farmers of each kind')
  if (!(Number.isInteger(opts.segments) && opts.segments >= 1 && opts.segments <= 1_000_000)) throw new DurabilityModelError('segments must be an integer in [1, 1 000 000]')
  if (!(opts.years > 0 && opts.years <= 1000)) throw new DurabilityModelError('years must be in (0, 1000]')

  const rng = new Rng(opts.seed)
  const queue = new EventQueue()
  const warm = (opts.warmupYears ?? 0) * HOURS_PER_YEAR
  const end = warm + opts.years * HOURS_PER_YEAR
  if (!(warm >= 0 && warm <= end)) throw new DurabilityModelError('warmupYears must be ≥ 0')
  const mttfHours = params.mttfMonths * HOURS_PER_YEAR / 12
  const weibullScale = weibullScaleForMean(params.weibullShape, mttfHours)
  const dayOn = 24 * params.lightOnlineFraction
  const dayOff = 24 - dayOn
  const audit = params.auditIntervalHours

  const farmers: Farmer[] = []
  const alive: [number[], number[]] = [[], []] // [full, light] farmer ids alive
  const alivePos = new Map<number, number>()
  const segments: Segment[] = []
  let losses = 0
  let repairs = 0
  let rebuilt = 0
  let trafficMiB = 0
  let unavailableHours = 0
  let now = 0

  /** Counts time below k fragments online, from `since` to now, within the measured span. */
  const countDown = (since: number): void => { unavailableHours += Math.max(0, now - Math.max(since, warm)) }

  const setOnline = (s: Segment, delta: number): void => {
    const before = s.online
    s.online += delta
    if (before >= k && s.online < k) s.downSince = now
    else if (before < k && s.online >= k) { countDown(s.downSince); s.downSince = -1 }
  }

  /** The first audit of `f` at or after `t`. */
  const nextAudit = (f: Farmer, t: number): number => audit === 0 ? t : f.auditPhase + Math.ceil((t - f.auditPhase) / audit) * audit

  const addFarmer = (isLight: boolean): number => {
    const id = farmers.length
    const f: Farmer = { light: isLight, dead: false, online: true, declared: false, epoch: 0, auditPhase: rng.uniform() * Math.max(audit, 1), holds: new Set() }
    farmers.push(f)
    const list = alive[isLight ? 1 : 0]
    alivePos.set(id, list.length)
    list.push(id)
    if (isLight) {
      queue.push({ time: now + rng.exponential(params.lightMembershipWeeks * 7 * 24), kind: EventKind.Death, target: id, epoch: 0 })
      f.online = rng.chance(params.lightOnlineFraction)
      queue.push({ time: now + rng.exponential(f.online ? dayOn : dayOff), kind: f.online ? EventKind.LightOff : EventKind.Back, target: id, epoch: 0 })
    } else {
      queue.push({ time: now + rng.weibull(params.weibullShape, weibullScale), kind: EventKind.Death, target: id, epoch: 0 })
      if (params.outagesPerYear > 0) queue.push({ time: now + rng.exponential(HOURS_PER_YEAR / params.outagesPerYear), kind: EventKind.Outage, target: id, epoch: 0 })
    }
    return id
  }

  /** A random live, reachable, trusted farmer of a kind that holds nothing of `s`, or −1. */
  const pick = (isLight: boolean, s: Segment): number => {
    const list = alive[isLight ? 1 : 0]
    const usable = (id: number): boolean => {
      const f = farmers[id]!
      return f.online && !f.declared && !s.holders.includes(id)
    }
    for (let i = 0; i < PLACEMENT_TRIES; i++) {
      const id = list[rng.int(list.length)]!
      if (usable(id)) return id
    }
    const start = rng.int(list.length)
    for (let i = 0; i < list.length; i++) {
      const id = list[(start + i) % list.length]!
      if (usable(id)) return id
    }
    return -1
  }

  const placeFresh = (index: number): void => {
    const old = segments[index]
    const s: Segment = { holders: new Int32Array(n).fill(-1), proven: new Uint8Array(n), exists: 0, online: 0, provenFull: 0, provenLight: 0, repairPending: false, token: (old?.token ?? 0) + 1, downSince: -1 }
    segments[index] = s
    for (let slot = 0; slot < n; slot++) {
      const id = pick(slot >= nFull, s)
      if (id < 0) continue
      s.holders[slot] = id
      s.proven[slot] = 1
      farmers[id]!.holds.add(index * 256 + slot)
      s.exists++
      s.online++
      if (slot < nFull) s.provenFull++
      else s.provenLight++
    }
    if (s.online < k) s.downSince = now
    checkRepair(index)
  }

  const checkRepair = (index: number): void => {
    const s = segments[index]!
    if (s.repairPending) return
    const fullLow = s.provenFull <= threshold && s.provenFull < nFull
    const lightLow = L > 0 && s.provenLight <= Math.floor(L / 2)
    if (!fullLow && !lightLow) return
    s.repairPending = true
    const missing = n - s.provenFull - s.provenLight
    const transferHours = (k + missing) * params.shardMiB / REPAIR_MIB_PER_SECOND / 3600
    const delay = params.repairDelayDistribution === 'fixed' ? params.repairDelayHours : rng.exponential(params.repairDelayHours)
    queue.push({ time: now + delay + transferHours, kind: EventKind.Repair, target: index, epoch: s.token })
  }

  const repair = (index: number, token: number): void => {
    const s = segments[index]!
    if (s.token !== token) return
    s.repairPending = false
    if (s.online < k) { // nothing to rebuild from yet: try again when more farmers are back
      s.repairPending = true
      queue.push({ time: now + RETRY_HOURS, kind: EventKind.Repair, target: index, epoch: token })
      return
    }
    let replaced = 0
    for (let slot = 0; slot < n; slot++) {
      if (s.proven[slot] === 1) continue
      const id = pick(slot >= nFull, s)
      if (id < 0) continue
      const oldId = s.holders[slot]!
      if (oldId >= 0) {
        const old = farmers[oldId]!
        old.holds.delete(index * 256 + slot)
        if (!old.dead) { s.exists--; if (old.online) setOnline(s, -1) }
      }
      s.holders[slot] = id
      s.proven[slot] = 1
      farmers[id]!.holds.add(index * 256 + slot)
      s.exists++
      setOnline(s, 1)
      if (slot < nFull) s.provenFull++
      else s.provenLight++
      replaced++
    }
    if (replaced > 0 && now >= warm) {
      repairs++
      rebuilt += replaced
      trafficMiB += (k + replaced) * params.shardMiB
    }
    checkRepair(index)
  }

  const goOffline = (id: number): void => {
    const f = farmers[id]!
    f.online = false
    f.epoch++
    for (const key of f.holds) setOnline(segments[Math.floor(key / 256)]!, -1)
    // Noticed at the first audit once the grace period has run out.
    queue.push({ time: nextAudit(f, now + params.gracePeriodHours), kind: EventKind.Declare, target: id, epoch: f.epoch })
  }

  const goOnline = (id: number): void => {
    const f = farmers[id]!
    if (f.dead || f.online) return
    f.online = true
    f.epoch++
    for (const key of f.holds) setOnline(segments[Math.floor(key / 256)]!, 1)
    if (f.declared) queue.push({ time: nextAudit(f, now), kind: EventKind.Reprove, target: id, epoch: f.epoch })
  }

  const declare = (id: number, epoch: number): void => {
    const f = farmers[id]!
    if (f.epoch !== epoch || f.online || f.declared) return
    f.declared = true
    for (const key of [...f.holds]) {
      const index = Math.floor(key / 256)
      const slot = key % 256
      const s = segments[index]!
      if (s.proven[slot] !== 1) continue
      s.proven[slot] = 0
      if (slot < nFull) s.provenFull--
      else s.provenLight--
      checkRepair(index)
    }
  }

  const reprove = (id: number, epoch: number): void => {
    const f = farmers[id]!
    if (f.epoch !== epoch || !f.online || f.dead || !f.declared) return
    f.declared = false
    for (const key of f.holds) {
      const s = segments[Math.floor(key / 256)]!
      const slot = key % 256
      if (s.proven[slot] === 1) continue
      s.proven[slot] = 1
      if (slot < nFull) s.provenFull++
      else s.provenLight++
    }
  }

  const die = (id: number): void => {
    const f = farmers[id]!
    if (f.dead) return
    if (f.online) goOffline(id)
    f.dead = true
    const list = alive[f.light ? 1 : 0]
    const pos = alivePos.get(id)!
    const lastId = list[list.length - 1]!
    list[pos] = lastId
    alivePos.set(lastId, pos)
    list.pop()
    alivePos.delete(id)
    addFarmer(f.light)
    for (const key of [...f.holds]) {
      const index = Math.floor(key / 256)
      const s = segments[index]!
      if (s.holders[key % 256] !== id) continue
      s.exists--
      if (s.exists < k) {
        if (now >= warm) losses++
        if (s.downSince >= 0) countDown(s.downSince)
        for (let slot = 0; slot < n; slot++) {
          const h = s.holders[slot]!
          if (h >= 0) farmers[h]!.holds.delete(index * 256 + slot)
        }
        placeFresh(index)
      }
    }
  }

  for (let i = 0; i < opts.fullFarmers; i++) addFarmer(false)
  for (let i = 0; i < (L > 0 ? opts.lightFarmers : 0); i++) addFarmer(true)
  for (let i = 0; i < opts.segments; i++) placeFresh(i)
  if (params.correlatedPerYear > 0 && params.correlatedShare > 0) {
    queue.push({ time: rng.exponential(HOURS_PER_YEAR / params.correlatedPerYear), kind: EventKind.Correlated, target: 0, epoch: 0 })
  }

  let nextProgress = end / 100
  for (;;) {
    const e = queue.pop()
    if (e === undefined || e.time >= end) break
    now = e.time
    if (opts.onProgress !== undefined && now >= nextProgress) { opts.onProgress(now / end); nextProgress += end / 100 }
    const f = farmers[e.target]
    switch (e.kind) {
      case EventKind.Death: die(e.target); break
      case EventKind.Outage:
        if (f!.dead) break
        queue.push({ time: now + rng.exponential(HOURS_PER_YEAR / params.outagesPerYear), kind: EventKind.Outage, target: e.target, epoch: 0 })
        if (!f!.online) break
        goOffline(e.target)
        queue.push({ time: now + (params.outageDistribution === 'fixed' ? params.outageMeanHours : rng.exponential(params.outageMeanHours)), kind: EventKind.Back, target: e.target, epoch: 0 })
        break
      case EventKind.Back:
        if (f!.dead) break
        goOnline(e.target)
        if (f!.light) queue.push({ time: now + rng.exponential(dayOn), kind: EventKind.LightOff, target: e.target, epoch: 0 })
        break
      case EventKind.LightOff:
        if (f!.dead) break
        if (f!.online) goOffline(e.target)
        queue.push({ time: now + rng.exponential(dayOff), kind: EventKind.Back, target: e.target, epoch: 0 })
        break
      case EventKind.Declare: declare(e.target, e.epoch); break
      case EventKind.Reprove: reprove(e.target, e.epoch); break
      case EventKind.Repair: repair(e.target, e.epoch); break
      case EventKind.Correlated:
        for (const id of [...alive[0]]) if (rng.chance(params.correlatedShare)) die(id)
        queue.push({ time: now + rng.exponential(HOURS_PER_YEAR / params.correlatedPerYear), kind: EventKind.Correlated, target: 0, epoch: 0 })
        break
    }
  }
  now = end
  for (const s of segments) if (s.downSince >= 0) countDown(s.downSince)
  const segmentHours = opts.segments * (end - warm)
  return {
    segmentYears: segmentHours / HOURS_PER_YEAR,
    losses,
    unavailability: unavailableHours / segmentHours,
    repairs,
    rebuiltFragments: rebuilt,
    repairTrafficMiB: trafficMiB,
    storedMiB: opts.segments * k * params.shardMiB
  }
}
