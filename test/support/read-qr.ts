import jsqr from 'jsqr'

type ReadQr = (data: Uint8ClampedArray, width: number, height: number) => { data: string } | null

/**
 * jsqr's decoder. The package is CommonJS (a webpack UMD bundle) whose types declare an ES default
 * export, so under Node's ESM interop the function sits at `default` or at `default.default`
 * depending on the loader; this takes whichever it is.
 */
const mod = jsqr as unknown as ReadQr & { default?: ReadQr }
export const readQr: ReadQr = typeof mod.default === 'function' ? mod.default : mod
