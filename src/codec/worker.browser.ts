// The Web Worker entry: fetches the codec and serves it over comlink. Nothing else loads the wasm.
import { expose } from 'comlink'
import { loadCodec, type VariantChoice } from './loader.ts'
import { browserModuleSource } from './source.browser.ts'
import { createCodecService } from './service.ts'

const choice = (new URL(self.location.href).searchParams.get('variant') ?? 'auto') as VariantChoice
expose(createCodecService(loadCodec(browserModuleSource, choice)))
