// The Node worker_threads entry: loads the codec from disk and serves it over comlink.
import { parentPort, workerData } from 'node:worker_threads'
import { expose } from 'comlink'
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs'
import { loadCodec, type VariantChoice } from './loader.ts'
import { nodeModuleSource } from './source.node.ts'
import { createCodecService } from './service.ts'

if (parentPort === null) throw new Error('worker.node.ts must run in a worker thread')
const choice = (workerData as { variant?: VariantChoice } | undefined)?.variant ?? 'auto'
expose(createCodecService(loadCodec(nodeModuleSource, choice)), nodeEndpoint(parentPort))
