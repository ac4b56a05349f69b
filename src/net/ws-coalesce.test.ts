import { describe, expect, it } from 'vitest'
import { WebSocket, WebSocketServer } from 'ws'
import { coalescingWebSocket, installCoalescing, SendCoalescer } from './ws-coalesce.ts'

const bytes = (...xs: number[]): Uint8Array => new Uint8Array(xs)

describe('SendCoalescer', () => {
  it('writes the sends of one turn as one message, in order', async () => {
    const writes: Uint8Array[] = []
    const c = new SendCoalescer(d => { writes.push(d.slice()) })
    c.add(bytes(1, 2))
    c.add(bytes())
    c.add(bytes(3))
    expect(writes).toHaveLength(0)
    expect(c.pendingBytes).toBe(3)
    await Promise.resolve()
    expect(writes).toEqual([bytes(1, 2, 3)])
    expect(c.pendingBytes).toBe(0)
  })

  it('flushes when its scheduler says: after the awaits of a turn, with setImmediate', async () => {
    const writes: Uint8Array[] = []
    const c = new SendCoalescer(d => { writes.push(d.slice()) }, 1024, flush => { setImmediate(flush) })
    c.add(bytes(1))
    await Promise.resolve()
    c.add(bytes(2))
    await Promise.resolve()
    expect(writes).toHaveLength(0) // the microtask flush would have sent [1] by now
    await new Promise(resolve => setImmediate(resolve))
    expect(writes).toEqual([bytes(1, 2)])
  })

  it('passes a lone buffer through without copying it', async () => {
    const writes: Uint8Array[] = []
    const c = new SendCoalescer(d => { writes.push(d) })
    const only = bytes(9, 9)
    c.add(only)
    await Promise.resolve()
    expect(writes[0]).toBe(only)
  })

  it('sends at once when the batch reaches the limit', () => {
    const writes: number[] = []
    const c = new SendCoalescer(d => { writes.push(d.byteLength) }, 4)
    c.add(bytes(1, 2, 3))
    c.add(bytes(4, 5))
    expect(writes).toEqual([5])
    expect(c.pendingBytes).toBe(0)
  })
})

describe('installCoalescing on ws', () => {
  it('keeps every byte and the order of binary and text messages, in fewer messages', async () => {
    installCoalescing(WebSocket.prototype as never)
    installCoalescing(WebSocket.prototype as never) // idempotent
    const server = new WebSocketServer({ host: '127.0.0.1', port: 0 })
    await new Promise(resolve => server.once('listening', resolve))
    const received: Array<string | Buffer> = []
    const closed = new Promise<void>(resolve => {
      server.once('connection', sock => {
        sock.on('message', (data: Buffer, isBinary: boolean) => { received.push(isBinary ? data : data.toString()) })
        sock.once('close', () => { resolve() })
      })
    })
    const { port } = server.address() as { port: number }
    const ws = new WebSocket(`ws://127.0.0.1:${port}`)
    try {
      await new Promise(resolve => ws.once('open', resolve))
      const before = ws.bufferedAmount
      for (let i = 0; i < 100; i++) ws.send(bytes(i, i))
      expect(ws.bufferedAmount - before).toBeGreaterThanOrEqual(200) // gathered bytes count as buffered
      ws.send('mid') // a text message flushes the 100 first
      ws.send(bytes(200))
      ws.send(bytes(201))
      ws.close() // and close flushes what is gathered before the close frame
      await closed
      expect(received).toHaveLength(3)
      expect([...(received[0] as Buffer)]).toEqual(Array.from({ length: 100 }, (_, i) => [i, i]).flat())
      expect(received[1]).toBe('mid')
      expect([...(received[2] as Buffer)]).toEqual([200, 201])
    } finally {
      ws.terminate()
      await new Promise(resolve => server.close(resolve))
    }
  })
})

describe('coalescingWebSocket', () => {
  /** Stands in for the browser's class: `bufferedAmount` is an accessor on the base prototype. */
  class FakeSocket {
    static readonly OPEN = 1
    readonly readyState = 1
    readonly sent: unknown[] = []
    closed = false
    get bufferedAmount (): number { return 7 }
    send (data: unknown): void { this.sent.push(data) }
    close (): void { this.closed = true }
  }

  it('coalesces in a subclass and leaves the base class alone', async () => {
    const Coalescing = coalescingWebSocket(FakeSocket as unknown as typeof globalThis.WebSocket)
    const ws = new Coalescing('ws://unused') as unknown as FakeSocket
    ws.send(bytes(1))
    ws.send(bytes(2, 3))
    expect(ws.sent).toHaveLength(0)
    expect(ws.bufferedAmount).toBe(7 + 3) // the base's figure plus the gathered bytes
    await Promise.resolve()
    expect(ws.sent).toEqual([bytes(1, 2, 3)])
    ws.send(bytes(4))
    ws.close()
    expect(ws.sent).toEqual([bytes(1, 2, 3), bytes(4)]) // close flushed first
    expect(ws.closed).toBe(true)

    const plain = new FakeSocket()
    plain.send(bytes(9))
    expect(plain.sent).toEqual([bytes(9)]) // the base class still sends each message at once
  })
})
