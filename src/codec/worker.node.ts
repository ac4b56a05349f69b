// The Node worker_threads entry: loads the codec from disk and serves it over comlink.
import { hash } from 'node:crypto'
import { parentPort, workerData } from 'node:worker_threads'
import { expose } from 'comlink'
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs'
import { loadCodec, type VariantChoice } from './loader.ts'
import { nodeModuleSource } from './source.node.ts'
import { useSha256Engine } from '../core/hash.ts'
import { useMerkleSha256 } from '../core/merkle.ts'
import { createCodecService, type MerkleEngine } from './service.ts'

// Fragment ids and Merkle roots are hashed here (`encodeShardsWithDigests`): with node:crypto, as on
// the main thread (`src/client/adapters/hash.node.ts`), not WebCrypto or the pure-JS default.
// The tree engine is `nodeMerkleSha256`'s (the cheapest call measured, see there), repeated here
// so that the worker loads nothing from the client: it writes into one reused buffer, and a latin1
// string result allocates less than a Buffer.
const digest = new Uint8Array(32)
useSha256Engine(bytes => new Uint8Array(hash('sha256', bytes, 'buffer')))
useMerkleSha256(bytes => {
  const s = hash('sha256', bytes, 'binary')
  for (let i = 0; i < 32; i++) digest[i] = s.charCodeAt(i)
  return digest
})

if (parentPort === null) throw new Error('worker.node.ts must run in a worker thread')
const data = workerData as { variant?: VariantChoice, merkle?: MerkleEngine } | undefined
const choice = data?.variant ?? 'auto'
// Roots with node:crypto per leaf unless told otherwise: measured faster in Node than the
// module's SIMD128 (see `MerkleEngine`).
expose(createCodecService(loadCodec(nodeModuleSource, choice), { merkle: data?.merkle ?? 'core' }), nodeEndpoint(parentPort))
