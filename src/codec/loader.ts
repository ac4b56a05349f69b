import { Codec, type CodecVariant } from './codec.ts'

/**
 * The smallest module that uses `i8x16.relaxed_swizzle` (a function of two v128 returning their
 * relaxed swizzle). Engines that validate it run the relaxed build; the others, the standard one.
 */
const RELAXED_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 7, 1, 96, 2, 123, 123, 1, 123, 3, 2, 1, 0,
  10, 11, 1, 9, 0, 32, 0, 32, 1, 253, 128, 2, 11
])

/** True when this engine supports relaxed SIMD. */
export function supportsRelaxedSimd (): boolean {
  return WebAssembly.validate(RELAXED_PROBE)
}

/** Which variant to load: `auto` picks relaxed where the engine validates it. @default 'auto' */
export type VariantChoice = CodecVariant | 'auto'

/** Gets a module's bytes on this platform (file read in Node, fetch in browsers). */
export type ModuleSource = (variant: CodecVariant) => Promise<BufferSource | WebAssembly.Module>

export function chooseVariant (choice: VariantChoice = 'auto'): CodecVariant {
  if (choice === 'auto') return supportsRelaxedSimd() ? 'relaxed' : 'standard'
  return choice
}

/** Loads the right module through the platform's `source` and instantiates it. */
export async function loadCodec (source: ModuleSource, choice: VariantChoice = 'auto'): Promise<Codec> {
  const variant = chooseVariant(choice)
  return await Codec.instantiate(await source(variant), variant)
}
