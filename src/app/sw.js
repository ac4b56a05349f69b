// Shardfarm's service worker: keeps the app shell so the page opens offline, and relays Background
// Sync to open pages so they drain the upload outbox. Fragments never pass through here: the page
// does all crypto and networking, and the outbox lives in IndexedDB.
//
// Strategy: navigations are network-first (a fresh app when online, the cached shell offline);
// same-origin assets are cache-first (their names carry content hashes). /grid.json is never cached.
// The build replaces PRECACHE with every file it emitted (see vite.config.ts), and the version
// with a hash of that list, so each release gets a fresh cache and old ones are dropped.
const PRECACHE = self.__SHARDFARM_PRECACHE__ ?? []
const CACHE = `shardfarm-shell-${self.__SHARDFARM_VERSION__ ?? 'dev'}`

self.addEventListener('install', (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE)
    // Everything, codec worker and wasm included: an upload made offline right after a reload
    // needs them, and the page may never have started a worker while online.
    await cache.addAll(['/', ...PRECACHE])
    await self.skipWaiting()
  })())
})

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const key of await caches.keys()) if (key !== CACHE) await caches.delete(key)
    await self.clients.claim()
  })())
})

self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url)
  if (event.request.method !== 'GET' || url.origin !== self.location.origin || url.pathname === '/grid.json') return
  if (event.request.mode === 'navigate') {
    event.respondWith(fetch(event.request).catch(async () => (await caches.match('/', { ignoreVary: true })) ?? Response.error()))
    return
  }
  event.respondWith((async () => {
    // ignoreVary: the preview server varies on Origin, and module scripts are fetched with one.
    const hit = await caches.match(event.request, { ignoreVary: true })
    if (hit !== undefined) return hit
    const res = await fetch(event.request)
    // Chunks loaded later (workers, wasm) join the cache as they are first fetched.
    if (res.ok && url.pathname.startsWith('/assets/')) (await caches.open(CACHE)).put(event.request, res.clone())
    return res
  })())
})

self.addEventListener('sync', (event) => {
  if (event.tag !== 'shardfarm-outbox') return
  event.waitUntil((async () => {
    for (const client of await self.clients.matchAll({ type: 'window' })) client.postMessage({ type: 'shardfarm-sync' })
  })())
})
