import { afterAll, expect, it } from 'vitest'
import { WebSocketServer } from 'ws'
import type { Multiaddr } from '@multiformats/multiaddr'
import { createNodeLibp2p } from './libp2p.node.ts' // also installs the WebSocket that Node dials with

const server = new WebSocketServer({ host: '127.0.0.1', port: 0 })
afterAll(async () => { await new Promise(resolve => server.close(resolve)) })

it('dials with a WebSocket whose frames carry an all-zero mask (so ws skips copying and XOR-ing them)', async () => {
  await new Promise(resolve => { if (server.address() !== null) resolve(undefined); else server.once('listening', resolve) })
  const raw: Buffer[] = []
  const received = new Promise<Buffer>(resolve => {
    server.once('connection', (sock, req) => {
      req.socket.on('data', (b: Buffer) => raw.push(b)) // the bytes as they came off the wire
      sock.once('message', (data: Buffer) => { resolve(data) })
    })
  })
  const { port } = server.address() as { port: number }
  const ws = new globalThis.WebSocket(`ws://127.0.0.1:${port}`)
  await new Promise(resolve => { ws.addEventListener('open', resolve, { once: true }) })
  const payload = new Uint8Array(300).map((_, i) => i)
  ws.send(payload)
  expect([...await received]).toEqual([...payload]) // the server reads it as an ordinary frame
  const frame = Buffer.concat(raw)
  expect(frame[0]).toBe(0x82) // FIN + binary
  expect(frame[1]! & 0x80).toBe(0x80) // masked, as a client frame must be…
  expect([...frame.subarray(4, 8)]).toEqual([0, 0, 0, 0]) // …with a zero key (16-bit length form)
  expect([...frame.subarray(8, 308)]).toEqual([...payload]) // so the payload travels as is
  ws.close()
})

it('gathers sends until the socket reads that were ready have run, across awaits (one message, not one per turn)', async () => {
  await new Promise(resolve => { if (server.address() !== null) resolve(undefined); else server.once('listening', resolve) })
  const messages: Buffer[] = []
  const gotAll = new Promise<void>(resolve => {
    server.once('connection', sock => {
      sock.on('message', (data: Buffer) => { messages.push(data); if (Buffer.concat(messages).length === 3) resolve() })
    })
  })
  const { port } = server.address() as { port: number }
  const ws = new globalThis.WebSocket(`ws://127.0.0.1:${port}`)
  await new Promise(resolve => { ws.addEventListener('open', resolve, { once: true }) })
  // As yamux answers frames decoded from one socket read: each window update after an await.
  ws.send(new Uint8Array([1]))
  await Promise.resolve()
  ws.send(new Uint8Array([2]))
  await new Promise(resolve => { queueMicrotask(() => { resolve(undefined) }) })
  ws.send(new Uint8Array([3]))
  await gotAll
  expect(messages.map(m => [...m])).toEqual([[1, 2, 3]])
  ws.close()
})

it('runs identify unless told not to (the CLI), and a node without it still speaks to one with it', async () => {
  const listener = await createNodeLibp2p({ listen: ['/ip4/127.0.0.1/tcp/0/ws'] })
  const dialer = await createNodeLibp2p({ identify: false })
  try {
    expect(listener.getProtocols()).toContain('/ipfs/id/1.0.0')
    expect(dialer.getProtocols()).not.toContain('/ipfs/id/1.0.0')
    // ping is a protocol of its own: it works over the connection either way.
    const rtt = await (dialer.services.ping as { ping: (ma: Multiaddr) => Promise<number> }).ping(listener.getMultiaddrs()[0]!)
    expect(rtt).toBeGreaterThanOrEqual(0)
  } finally {
    await Promise.all([listener.stop(), dialer.stop()])
  }
})
