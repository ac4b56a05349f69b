import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { defineConfig, type Plugin } from 'vite'
import { svelte } from '@sveltejs/vite-plugin-svelte'
import { localGridAnswer } from './src/cli/relay-address.ts'

/**
 * The app's Content-Security-Policy: everything from this origin only, WebAssembly compiled from
 * bytes (the codec), WebSockets to farmers and relays on any host, HTTP to the keeper the person
 * names ("Keep safe"), blob: URLs for downloads and
 * previews (the page's own: reading one back is reading what the page already holds), no inline
 * scripts or styles, no plugins, no <base>, no framing. Sent as a header by
 * `vite preview` and `npm start`, and as a <meta> in the built index.html for static hosts that
 * send no header (a <meta> cannot carry frame-ancestors). The dev server sends none: its hot
 * reload injects styles.
 */
export const CSP: Record<string, string> = {
  'default-src': "'self'",
  'script-src': "'self' 'wasm-unsafe-eval'",
  'worker-src': "'self'",
  'connect-src': "'self' blob: ws: wss: http: https:",
  'img-src': "'self' blob: data:",
  'media-src': "'self' blob:",
  'style-src': "'self'",
  'object-src': "'none'",
  'base-uri': "'none'",
  'form-action': "'self'",
  'frame-ancestors': "'none'"
}
const cspText = (skip: string[] = []): string =>
  Object.entries(CSP).filter(([k]) => !skip.includes(k)).map(([k, v]) => `${k} ${v}`).join('; ')

/** Puts the policy into the built index.html as a <meta http-equiv> (the header is the main line). */
function cspMeta (): Plugin {
  return {
    name: 'shardfarm-csp-meta',
    apply: 'build',
    transformIndexHtml: () => [{
      tag: 'meta', injectTo: 'head-prepend',
      attrs: { 'http-equiv': 'Content-Security-Policy', content: cspText(['frame-ancestors']) }
    }]
  }
}

/**
 * Serves `/grid.json` (`localGridAnswer`: the local grid's relays and keeper, found where `npm start`
 * or `shardfarm grid` wrote them, never in the working directory), so the app finds a local grid
 * with nothing to configure. Read on every request: the grid may start after the web server.
 */
function localGrid (): Plugin {
  const handler = async (_req: unknown, res: { setHeader: (k: string, v: string) => void, statusCode: number, end: (s: string) => void }): Promise<void> => {
    res.setHeader('content-type', 'application/json')
    res.setHeader('cache-control', 'no-store')
    const answer = await localGridAnswer().catch(() => undefined)
    if (answer === undefined) res.statusCode = 404
    res.end(JSON.stringify(answer ?? { error: 'no local grid running' }))
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
  plugins: [svelte(), localGrid(), serviceWorker(), cspMeta()],
  server: { host: '127.0.0.1', strictPort: true },
  preview: { host: '127.0.0.1', strictPort: true, headers: { 'content-security-policy': cspText() } },
  worker: { format: 'es' },
  // libp2p is most of the bundle; one 600 kB chunk loads once and is cached by the service worker.
  build: { target: 'es2023', sourcemap: true, chunkSizeWarningLimit: 1500 }
})
