import type { ModuleSource } from './loader.ts'

// Static URLs, so the bundler sees and emits both modules.
const URLS = {
  standard: new URL('./wasm/shardfarm_codec_standard.wasm', import.meta.url),
  relaxed: new URL('./wasm/shardfarm_codec_relaxed.wasm', import.meta.url)
}

/** Fetches and compiles a codec module (browser), streaming compile where the server allows. */
export const browserModuleSource: ModuleSource = async (variant) => {
  const res = await fetch(URLS[variant])
  if (!res.ok) throw new Error(`Could not load the codec (${res.status} ${res.statusText})`)
  return await WebAssembly.compile(await res.arrayBuffer())
}
