#!/usr/bin/env bash
# Makes sure a Chromium is there for the playground's browser tests
# (tests/playground): Debian's chromium, installed when this runs as root on
# Debian, else the command to run is printed. Its built-in WebGPU
# (SwiftShader, on the CPU) trains the page's models; nothing else is needed.
# Never fatal: without it the browser tests fail with a message saying so.
# MOEC_CHROMIUM names a Chromium or Chrome binary to use instead.
set -uo pipefail
source "$(dirname "$0")/optional_install.sh"

bin="${MOEC_CHROMIUM:-/usr/bin/chromium}"
if [ -x "$bin" ]; then
  say "Chromium: $("$bin" --version 2>/dev/null | head -n 1) ($bin)"
  exit 0
fi
if install_or_print chromium 'apt-get update && apt-get install -y chromium' 'the playground browser tests will fail (or set MOEC_CHROMIUM to a Chromium or Chrome binary)'; then
  say "Chromium: $(/usr/bin/chromium --version 2>/dev/null | head -n 1)"
fi
exit 0
