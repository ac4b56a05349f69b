import { loadCodec } from './loader.ts'
import { nodeModuleSource } from './source.node.ts'
import { runMerkleRootTests } from './testing/merkle-suite.ts'

// Both builds: the relaxed one differs only in its swizzles, but it is the one Node and Chromium run.
runMerkleRootTests('standard module, Node', async () => await loadCodec(nodeModuleSource, 'standard'))
runMerkleRootTests('relaxed module, Node', async () => await loadCodec(nodeModuleSource, 'relaxed'))
