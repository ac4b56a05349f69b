import { loadCodec } from './loader.ts'
import { browserModuleSource } from './source.browser.ts'
import { runMerkleRootTests } from './testing/merkle-suite.ts'

// In Chromium, beside the pure-JS engine (@noble/hashes) that core/merkle.ts uses in browsers.
runMerkleRootTests('Chromium', async () => await loadCodec(browserModuleSource))
