#!/usr/bin/env bash
# Runs a command inside a fresh, loopback-only network namespace (as DESIGN.md asks for browser
# WebRTC tests): nothing the command starts can reach or be reached from any other interface.
# Falls back to running it as is, with a warning, where namespaces are not available (not root).
set -euo pipefail
if [[ "${SHARDFARM_NO_NETNS:-}" != "1" && $(id -u) -eq 0 ]] && unshare -n true 2>/dev/null; then
  exec unshare -n bash -c 'ip link set lo up && exec "$@"' netns "$@"
fi
echo "netns.sh: no network namespace (need root and unshare); running on the host network" >&2
exec "$@"
