/**
 * What to tell a person whose link did not open, and which actions can help. "Try again" only
 * where time can change the answer (farmers offline, the page offline); never for a link that is
 * altered, malformed or deleted. A link whose manifest holders this grid's directory does not list
 * most likely comes from another grid: say so, and how to point the app at that grid's relay.
 */
import type { HumanError } from './handle-error.ts'

export interface LinkAdvice {
  message: string
  /** What the person can do, in a sentence. */
  hint?: string
  /** Whether "Try again" can help. */
  retry: boolean
  /** The link probably belongs to another grid (offer the relay setting). */
  otherGrid: boolean
}

/** Codes for which trying the same link again cannot help. */
const FINAL = new Set(['BAD_CAPABILITY', 'AUTHENTICATION_FAILED', 'FILE_NOT_FOUND'])

/**
 * Advice for `error` on a link naming `holders`, given the peer ids `listed` in this grid's
 * directory (empty when the page has no list yet: then nothing is concluded from it).
 */
export function linkAdvice (error: HumanError, holders: readonly string[], listed: ReadonlySet<string>): LinkAdvice {
  if (error.code === 'MANIFEST_UNAVAILABLE' && listed.size > 0 && holders.length > 0 && !holders.some(h => listed.has(h))) {
    return {
      message: 'None of the farmers holding this file are part of the grid this app is connected to: the link most likely comes from another grid.',
      hint: 'Ask the sender for the relay address of their grid, enter it in Network under "Use another relay", then open the link again.',
      retry: false,
      otherGrid: true
    }
  }
  return { message: error.message, ...(error.hint !== undefined ? { hint: error.hint } : {}), retry: !FINAL.has(error.code), otherGrid: false }
}
