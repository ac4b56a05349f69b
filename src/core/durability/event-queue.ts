/** What the simulator schedules. */
export const EventKind = {
  /** A farmer dies (full) or leaves for good (light). */
  Death: 0,
  /** A full farmer's transient outage begins. */
  Outage: 1,
  /** A farmer is reachable again (outage over, or a light farmer's session starts). */
  Back: 2,
  /** A light farmer's session ends (it comes back later with its data). */
  LightOff: 3,
  /** The audit that finds a farmer unreachable past its grace period: it is treated as gone. */
  Declare: 4,
  /** The first audit a farmer passes after coming back: its copies count again. */
  Reprove: 5,
  /** A repair of a segment completes. */
  Repair: 6,
  /** A region or operator fails at once. */
  Correlated: 7
} as const

/** One kind of {@link EventKind}. */
export type EventKind = typeof EventKind[keyof typeof EventKind]

/** One scheduled event; `epoch` lets a handler drop events a later change made stale. */
export interface SimEvent {
  time: number
  kind: EventKind
  target: number
  epoch: number
}

/**
 * A binary min-heap on time. Ties break on insertion order so that a seed always replays the
 * same run.
 */
export class EventQueue {
  private readonly heap: SimEvent[] = []
  private readonly order: number[] = []
  private counter = 0

  /** Events waiting. */
  get size (): number { return this.heap.length }

  /** Schedules `e`. */
  push (e: SimEvent): void {
    this.heap.push(e)
    this.order.push(this.counter++)
    let i = this.heap.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (!this.less(i, parent)) break
      this.swap(i, parent)
      i = parent
    }
  }

  /** The earliest event, removed, or undefined when none is left. */
  pop (): SimEvent | undefined {
    const top = this.heap[0]
    if (top === undefined) return undefined
    const last = this.heap.pop()!
    const lastOrder = this.order.pop()!
    if (this.heap.length > 0) {
      this.heap[0] = last
      this.order[0] = lastOrder
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        const r = l + 1
        let best = i
        if (l < this.heap.length && this.less(l, best)) best = l
        if (r < this.heap.length && this.less(r, best)) best = r
        if (best === i) break
        this.swap(i, best)
        i = best
      }
    }
    return top
  }

  private less (a: number, b: number): boolean {
    const ta = this.heap[a]!.time
    const tb = this.heap[b]!.time
    return ta < tb || (ta === tb && this.order[a]! < this.order[b]!)
  }

  private swap (a: number, b: number): void {
    const e = this.heap[a]!
    this.heap[a] = this.heap[b]!
    this.heap[b] = e
    const o = this.order[a]!
    this.order[a] = this.order[b]!
    this.order[b] = o
  }
}
