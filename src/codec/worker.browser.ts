// The Web Worker entry: fetches the codec and serves it over comlink. Nothing else loads the wasm.
import { expose } from 'comlink'
import { loadCodec, type VariantChoice } from './loader.ts'
import { browserModuleSource } from './source.browser.ts'
import { createCodecService } from './service.ts'

declare const self: { name: string }
const named = self.name.split(':')[1]
const choice: VariantChoice = named === 'standard' || named === 'relaxed' ? named : 'auto'
// Roots by the module: about 9× faster in Chromium than core/merkle.ts's @noble/hashes (see `MerkleEngine`).
expose(createCodecService(loadCodec(browserModuleSource, choice), { merkle: 'wasm' }))
