#!/usr/bin/env bash
# Makes sure a Chromium is there for the playground's browser tests
# (tests/playground): Debian's chromium, installed when this runs as root on
# Debian, else the command to run is printed. Its built-in WebGPU
# (SwiftShader, on the CPU) trains the page's models; nothing else is needed.
# Never fatal: without it the browser tests fail with a message saying so.
# MOEC_CHROMIUM names a Chromium or Chrome binary to use instead.
set -uo pipefail

say() { printf '[setup] %s\n' "$*" >&2; }

bin="${MOEC_CHROMIUM:-/usr/bin/chromium}"
if [ -x "$bin" ]; then
  say "Chromium: $("$bin" --version 2>/dev/null | head -n 1) ($bin)"
  exit 0
fi

cmd='apt-get update && apt-get install -y chromium'
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  say "no Chromium at $bin: the playground's browser tests will fail. On Debian 12, as root:"
  say "    $cmd"
  say "(or set MOEC_CHROMIUM to a Chromium or Chrome binary)"
  exit 0
fi
say "no Chromium: installing Debian's chromium"
if ! bash -c "$cmd" >/tmp/moec-setup-chromium.log 2>&1; then
  say "installing chromium failed (log: /tmp/moec-setup-chromium.log); the browser tests will fail"
  tail -n 5 /tmp/moec-setup-chromium.log >&2
  exit 0
fi
[ -x /usr/bin/chromium ] && say "Chromium: $(/usr/bin/chromium --version 2>/dev/null | head -n 1)"
exit 0
