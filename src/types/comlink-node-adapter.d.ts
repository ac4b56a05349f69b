// comlink ships this adapter's types as node-adapter.d.ts beside an .mjs file, which NodeNext
// resolution does not pair up; this re-states its one export for Node's ports and workers.
declare module 'comlink/dist/esm/node-adapter.mjs' {
  import type { Endpoint } from 'comlink'
  import type { MessagePort, Worker } from 'node:worker_threads'
  export default function nodeEndpoint (nep: MessagePort | Worker): Endpoint
}
