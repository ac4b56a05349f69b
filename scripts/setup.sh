#!/usr/bin/env bash
# One-time setup for a fresh machine: system packages, then npm packages (which include Node 22).
# Safe to run again: it installs only what is missing.
#
#   Debian packages:  chromium (browser tests), rustc + cargo + libstd-rust-dev-wasm32 + lld-14 (the
#                     wasm build check; rust-lld is lld-14), wabt (the relaxed-SIMD rewrite)
#   npm packages:     everything in package-lock.json, including `node@22`, whose binary lands in
#                     node_modules/.bin and so runs every npm script (the system Node may be older)
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
[[ -x /usr/bin/chromium ]] || missing+=(chromium)
[[ -x /usr/bin/rustc ]] || missing+=(rustc)
[[ -x /usr/bin/cargo ]] || missing+=(cargo)
dpkg -s libstd-rust-dev-wasm32 >/dev/null 2>&1 || missing+=(libstd-rust-dev-wasm32)
# rustc links wasm32 with /usr/bin/rust-lld, a symlink to lld-14 that Debian only recommends.
[[ -x /usr/bin/lld-14 ]] || missing+=(lld-14)
command -v wat2wasm >/dev/null 2>&1 || missing+=(wabt)
if [[ ${#missing[@]} -gt 0 ]]; then
  echo "setup: installing Debian packages: ${missing[*]}" >&2
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [[ ! -x node_modules/.bin/node || package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "setup: installing npm packages" >&2
  npm ci --no-audit --no-fund --loglevel=error
fi

node_major=$(node_modules/.bin/node -p 'process.versions.node.split(".")[0]')
if [[ "$node_major" -lt 22 ]]; then
  echo "setup: node_modules/.bin/node is Node $node_major; Shardfarm needs Node 22 or newer" >&2
  exit 1
fi
# The bundled CLI (file commands start 0.8 s sooner; the launcher falls back to the sources when
# they change after this).
node_modules/.bin/node scripts/build-cli.ts || echo "setup: the CLI bundle did not build; shardfarm runs from source (slower to start)" >&2

echo "setup: ready (Node $(node_modules/.bin/node --version), $(/usr/bin/rustc --version))" >&2
