#!/usr/bin/env bash
# Packs what `npm run bench` needs to run on an offline x86-64 Linux machine
# with a GPU (no npm registry there): this Node binary and the installed
# node_modules, minus test tooling and other platforms' Dawn builds, as
# .gpu/node.tar.xz (about 45 MB), plus the Vulkan loader's Debian package
# for machines that lack it. scripts/gpu_bench.sh unpacks and runs it.
# Run it here, after `npm ci`, on x86-64 Debian/Ubuntu.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(uname -sm)" != "Linux x86_64" ]; then
  echo "gpu_bundle.sh: the bundle carries this machine's Node and Dawn; it must be built on x86-64 Linux (this is $(uname -sm))" >&2
  exit 1
fi
if [ ! -d node_modules/webgpu ]; then
  echo "gpu_bundle.sh: run 'npm ci' first" >&2
  exit 1
fi

mkdir -p .gpu
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/bin"
cp "$(command -v node)" "$stage/bin/node"
# Everything the benchmark imports; the test runner, bundler and compiler are not needed to run it.
skip=(vitest vite @vitest rolldown @rolldown lightningcss lightningcss-linux-x64-gnu lightningcss-linux-x64-musl typescript)
excludes=()
for s in "${skip[@]}"; do excludes+=(--exclude="./node_modules/$s"); done
for p in darwin-universal linux-arm64 win32-arm64 win32-x64; do excludes+=(--exclude="./node_modules/webgpu/dist/$p"); done
tar -cf "$stage/modules.tar" "${excludes[@]}" ./node_modules
mkdir -p "$stage/lib" && tar -xf "$stage/modules.tar" -C "$stage/lib" && rm "$stage/modules.tar"
tar -C "$stage" -cf - bin lib | xz -T0 -6 > .gpu/node.tar.xz
# The Vulkan loader Dawn links against (the GPU driver brings only its ICD).
if ! ls .gpu/libvulkan1_*.deb >/dev/null 2>&1; then
  (cd .gpu && apt-get download libvulkan1 >/dev/null 2>&1) || echo "gpu_bundle.sh: could not download libvulkan1; the GPU machine must have libvulkan.so.1" >&2
fi
echo "wrote .gpu/node.tar.xz ($(du -h .gpu/node.tar.xz | cut -f1)): Node $(node --version) and node_modules for x86-64 Linux"
