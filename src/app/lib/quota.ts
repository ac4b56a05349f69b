const MiB = 1024 * 1024

/** The smallest offer: below this a light farmer holds too few fragments to be worth placing on. */
export const MIN_OFFER = 64 * MiB
/** The largest offer when the browser does not say how much it allows. */
const UNKNOWN_CEILING = 4096 * MiB

/**
 * Of the room the browser gives this site, the share a farm may offer: the rest stays for the app's
 * own downloads (OPFS) and its offline outbox, which would otherwise fail with the quota full.
 */
export const OFFER_SHARE = 0.9

/** The largest offer: `OFFER_SHARE` of what the site may still store plus what the farm holds. */
export function offerMax (available: number | undefined, used: number): number | undefined {
  return available === undefined ? undefined : Math.floor((available + used) * OFFER_SHARE)
}

/**
 * The quotas the Farm slider moves through: four steps per doubling from 64 MiB (64, 76, 91,
 * 108, 128 MiB, …, whole MiB), so each notch changes the offer by about a fifth at any size, up to
 * `max` (what `navigator.storage.estimate()` leaves, plus what the farm already holds), and `max`
 * itself as the last notch. The current quota stays a notch even above `max`, so the slider can
 * show it; nothing above `max` is offered otherwise. Empty when there is no room for `MIN_OFFER`.
 */
export function quotaSteps (max: number | undefined, current: number): number[] {
  const ceiling = Math.floor((max ?? UNKNOWN_CEILING) / MiB) * MiB
  const steps: number[] = []
  for (let i = 0; ; i++) {
    const v = Math.round(MIN_OFFER * 2 ** (i / 4) / MiB) * MiB
    if (v > ceiling) break
    steps.push(v)
  }
  if (ceiling >= MIN_OFFER && steps.at(-1) !== ceiling) steps.push(ceiling)
  if (current >= MIN_OFFER && !steps.includes(current)) steps.push(current)
  return steps.sort((a, b) => a - b)
}

/** The notch nearest to `bytes`. */
export function nearestStep (steps: number[], bytes: number): number {
  let best = 0
  for (let i = 1; i < steps.length; i++) if (Math.abs(steps[i]! - bytes) < Math.abs(steps[best]! - bytes)) best = i
  return best
}
