/**
 * The policy tests store files with when what they test is not the policy itself: 4 + 2 on any six
 * full farmers. The presets (`live`, `archive`, `mixed`) are chosen by the durability model and
 * need grids of 18 to 64 farmers; a test that used one only to have some policy uses this one, so
 * its grid stays small whatever the presets become.
 */
import { fileURLToPath } from 'node:url'
import type { StoragePolicy } from '../../src/core/policy.ts'

/** 4 + 2, full farmers, any region or tier: the same as `test-policy.json`. */
export const TEST_POLICY: Readonly<StoragePolicy> = { name: 't', k: 4, m: 2 }

/** The same policy as a file, for `shardfarm put --policy FILE`. */
export const TEST_POLICY_FILE = fileURLToPath(new URL('./test-policy.json', import.meta.url))

/** `args` with `--policy TEST_POLICY_FILE` added to a `put` that names no policy. */
export function withTestPolicy (args: readonly string[]): string[] {
  return args[0] === 'put' && !args.includes('--policy') ? [...args, '--policy', TEST_POLICY_FILE] : [...args]
}

/**
 * The benchmarks' wide policy: `archive` as it was up to 0.2.0 (10 + 4 over three regions), kept so
 * that throughput figures stay comparable with their history and fit a 14-farmer bench grid.
 */
export const BENCH_POLICY: Readonly<StoragePolicy> = { name: 'bench-10+4', k: 10, m: 4, minRegions: 3 }
