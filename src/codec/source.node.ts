import { readFile } from 'node:fs/promises'
import type { ModuleSource } from './loader.ts'

/** Reads a codec module from beside this file (Node). */
export const nodeModuleSource: ModuleSource = async (variant) => {
  return await readFile(new URL(`./wasm/shardfarm_codec_${variant}.wasm`, import.meta.url))
}
