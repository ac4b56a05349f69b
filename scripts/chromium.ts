/**
 * How every browser test and benchmark launches Chromium: Debian's build (a browser download cannot
 * work on these machines, see DESIGN.md), with the flags it needs headless and as root. The WebRTC
 * flags let two headless pages connect over loopback; the runs that use them (`npm run test:e2e`,
 * `npm run test:browser`, `npm run bench:browser`) sit inside a loopback-only network namespace
 * (scripts/netns.sh), so no candidate or packet leaves the machine.
 */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

export const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--no-first-run', '--disable-quic',
  '--allow-loopback-in-peer-connection', '--use-fake-ui-for-media-stream', '--disable-features=WebRtcHideLocalIpsWithMdns'
]
