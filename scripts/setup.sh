#!/usr/bin/env bash
# Prepares a checkout to run moec: checks Node, installs the npm dependencies
# (npm ci, only when package-lock.json changed), and makes sure Dawn finds a
# WebGPU adapter. On a machine without a GPU that means Mesa's lavapipe
# (CPU Vulkan) from Debian bookworm-backports (Mesa 25; Debian 12's Mesa 22
# lacks what Dawn needs). It installs that when running as root, and
# otherwise prints the commands to run.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '[setup] %s\n' "$*" >&2; }

node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then
  say "moec needs Node.js 20 or newer (found: $(node --version 2>/dev/null || echo none))."
  exit 1
fi

stamp=node_modules/.moec-lock
if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
  say "installing npm dependencies (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error >&2
  cp package-lock.json "$stamp"
fi

# Sets $probe to the probe's own last line (Dawn prints harmless warnings on
# stderr) and succeeds when it found an adapter.
probe_adapter() {
  probe=$(node scripts/probe_adapter.mjs 2>&1 | grep -v '^Warning: ' | tail -n 1)
  [[ "$probe" == "WebGPU adapter:"* ]]
}

if probe_adapter; then
  say "$probe"
  exit 0
fi
say "$probe"

install_cmds='uri=$(awk '"'"'/^URIs:/{print $2; exit}'"'"' /etc/apt/sources.list.d/debian.sources 2>/dev/null || echo http://deb.debian.org/debian)
echo "deb $uri bookworm-backports main" > /etc/apt/sources.list.d/moec-backports.list
apt-get update
apt-get install -y -t bookworm-backports mesa-vulkan-drivers libvulkan1'

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  say "no WebGPU adapter, and this is not a root shell on Debian: install a Vulkan driver yourself."
  say "On Debian 12 without a GPU, as root:"
  printf '%s\n' "$install_cmds" | sed 's/^/    /' >&2
  exit 1
fi

say "no WebGPU adapter: installing Mesa's lavapipe (CPU Vulkan) from bookworm-backports"
if ! bash -c "$install_cmds" >/tmp/moec-setup-apt.log 2>&1; then
  say "installing the Vulkan driver failed; the log is /tmp/moec-setup-apt.log:"
  tail -n 20 /tmp/moec-setup-apt.log >&2
  exit 1
fi
if probe_adapter; then
  say "$probe"
else
  say "still no WebGPU adapter after installing lavapipe: $probe"
  exit 1
fi
