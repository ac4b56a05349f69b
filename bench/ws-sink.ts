// The raw-transport reference for bench/net.ts: a plain WebSocket server (the `ws` package, no
// libp2p, no encryption, no muxer) in its own process, like a farmer. It counts the binary bytes of
// each connection and answers the text message "end" with that count, so the sender can time a
// whole transfer up to the moment the receiver has it all. Prints its ws:// URL as one stdout line.
import { WebSocketServer } from 'ws'

const server = new WebSocketServer({ host: '127.0.0.1', port: 0, maxPayload: 64 * 1024 * 1024 })
server.on('connection', socket => {
  let bytes = 0
  socket.on('message', (data, isBinary) => {
    if (isBinary) {
      bytes += Array.isArray(data) ? data.reduce((n, b) => n + b.byteLength, 0) : (data as ArrayBuffer | Buffer).byteLength
    } else {
      socket.send(String(bytes))
      bytes = 0
    }
  })
})
server.on('listening', () => {
  const a = server.address()
  if (typeof a === 'object' && a !== null) process.stdout.write(`ws://127.0.0.1:${a.port}\n`)
})
// Ends with the benchmark: on a signal, or when the parent's IPC channel closes.
const stop = (): void => { server.close(); process.exit(0) }
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
if (process.channel !== undefined) { process.on('disconnect', stop); process.channel.unref() }
