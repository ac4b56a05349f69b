import { mount } from 'svelte'
import App from './App.svelte'
import './app.css'

mount(App, { target: document.getElementById('app')! })

// The service worker caches the app shell so the page opens offline. Only in built apps: the dev
// server serves modules one by one, which a shell cache cannot sensibly hold.
if ('serviceWorker' in navigator && import.meta.env.PROD) {
  void navigator.serviceWorker.register('/sw.js', { scope: '/' })
}
