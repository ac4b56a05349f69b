import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { defineConfig, type Plugin } from 'vite'
import { svelte } from '@sveltejs/vite-plugin-svelte'

/**
 * Serves `/grid.json` ({ relay }) from the address the local grid writes to
 * `$SHARDFARM_GRID/relay.addr` (default `./.shardfarm`), so the app finds a local grid with nothing
 * to configure. Read on every request: the grid may start after the web server.
 */
function localGrid (): Plugin {
  const handler = async (_req: unknown, res: { setHeader: (k: string, v: string) => void, statusCode: number, end: (s: string) => void }): Promise<void> => {
    res.setHeader('content-type', 'application/json')
    res.setHeader('cache-control', 'no-store')
    try {
      const relay = (await readFile(join(process.env.SHARDFARM_GRID ?? '.shardfarm', 'relay.addr'), 'utf8')).trim()
      res.end(JSON.stringify({ relay }))
    } catch {
      res.statusCode = 404
      res.end(JSON.stringify({ error: 'no local grid running' }))
    }
  }
  return {
    name: 'shardfarm-local-grid',
    configureServer (server) { server.middlewares.use('/grid.json', (req, res) => { void handler(req, res) }) },
    configurePreviewServer (server) { server.middlewares.use('/grid.json', (req, res) => { void handler(req, res) }) }
  }
}

/** Emits the service worker with the list of every built file to pre-cache. */
function serviceWorker (): Plugin {
  return {
    name: 'shardfarm-service-worker',
    apply: 'build',
    async generateBundle (_options, bundle) {
      const files = Object.keys(bundle).filter(f => !f.endsWith('.map') && f !== 'sw.js').map(f => `/${f}`)
      const extra = ['/manifest.webmanifest', '/icons/icon.svg', '/icons/icon-192.png', '/icons/icon-512.png']
      const list = [...files, ...extra].filter(f => f !== '/index.html').sort()
      const version = createHash('sha256').update(list.join('\n')).digest('hex').slice(0, 12)
      const source = await readFile(new URL('./src/app/sw.js', import.meta.url), 'utf8')
      const header = `self.__SHARDFARM_PRECACHE__ = ${JSON.stringify(list)};\nself.__SHARDFARM_VERSION__ = '${version}';\n`
      this.emitFile({ type: 'asset', fileName: 'sw.js', source: header + source })
    }
  }
}

export default defineConfig({
  plugins: [svelte(), localGrid(), serviceWorker()],
  server: { host: '127.0.0.1', strictPort: true },
  preview: { host: '127.0.0.1', strictPort: true },
  worker: { format: 'es' },
  // libp2p is most of the bundle; one 600 kB chunk loads once and is cached by the service worker.
  build: { target: 'es2023', sourcemap: true, chunkSizeWarningLimit: 1500 }
})
