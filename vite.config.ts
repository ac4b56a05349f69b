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

export default defineConfig({
  plugins: [svelte(), localGrid()],
  server: { host: '127.0.0.1', strictPort: true },
  preview: { host: '127.0.0.1', strictPort: true },
  worker: { format: 'es' },
  build: { target: 'es2023', sourcemap: true }
})
