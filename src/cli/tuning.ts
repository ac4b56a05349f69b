/**
 * Process settings for every Shardfarm Node process: the CLI (applied by `bin/shardfarm.js`, which
 * re-executes itself with them) and the farmers and relays that `spawnShardfarm` starts. Both are
 * read only at process start, so they cannot be set from inside a running process.
 *
 * - MALLOC_ARENA_MAX=2: glibc gives every thread that allocates (libuv's pool hashing and
 *   encrypting, the codec worker) its own arena, and freed segment buffers stay mapped in each.
 * - --max-semi-space-size=1 (MiB): V8's young generation otherwise grows to 3 × 16 MiB; our bytes
 *   live outside the JS heap, so a small one costs no speed here.
 * - --initial-old-space-size=64 (MiB): with a live JS heap of only ~18 MiB, V8 otherwise starts a
 *   full (mark-compact) collection after every ~2 MiB promoted: 45–62 of them in a 256 MiB put,
 *   about a third of the CLI's CPU (mostly on V8's helper threads). Finished segments are freed
 *   explicitly (`releaseBytes`), so the extra garbage no longer keeps them resident.
 *
 * Measured (RS(10,4), 14 farmers): put and get of 512 MiB peaked at 401/421 MiB RSS untuned and
 * 303/315 MiB with the first two, times unchanged within noise; the old-space floor then cut the
 * CLI's CPU by 15 % (put) and 35 % (get) on 256 MiB, and took `bench:net`'s six farmers from
 * 110 to 129–131 MB/s.
 */

import tuning from './tuning.json' with { type: 'json' }

// The values live in tuning.json so that `bin/shardfarm.js` reads them without loading TypeScript
// before it re-executes itself (Node's type stripping costs ~0.1 s the first time).

/** Environment of a tuned process. SHARDFARM_TUNED marks it (and, set by hand, skips the re-exec). */
export const TUNED_ENV: Readonly<Record<string, string>> = tuning.env

/** V8 flags of a tuned process. Worker threads refuse them (see `pool.node.ts`). */
export const TUNED_FLAGS: readonly string[] = tuning.flags
