// Shardfarm's service worker: keeps the app shell so the page opens offline, and relays Background
// Sync to open pages so they drain the upload outbox. Fragments never pass through here: the page
// does all crypto and networking, and the outbox lives in IndexedDB.
//
// Strategy: navigations are network-first (a fresh app when online, the cached shell offline);
// same-origin assets are cache-first (their names carry content hashes). /grid.json is never cached.
const CACHE = 'shardfarm-shell-v1'

self.addEventListener('install', (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE)
    const res = await fetch('/', { cache: 'no-store' })
    const html = await res.clone().text()
    await cache.put('/', res)
    // Pre-cache what the shell references (scripts, styles, icons), found in the HTML itself.
    const assets = [...html.matchAll(/(?:src|href)="(\/[^"]+)"/g)].map(m => m[1])
    await cache.addAll([...new Set([...assets, '/manifest.webmanifest', '/icons/icon-192.png', '/icons/icon.svg'])])
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
    event.respondWith(fetch(event.request).catch(async () => (await caches.match('/')) ?? Response.error()))
    return
  }
  event.respondWith((async () => {
    const hit = await caches.match(event.request)
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
