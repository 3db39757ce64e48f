#!/usr/bin/env bash
# Runs the benchmark (`npm run bench`, quick mode unless BENCH_ARGS says
# otherwise) on an offline x86-64 Linux machine with a GPU, from the bundle
# scripts/gpu_bundle.sh made: Dawn on the machine's Vulkan driver. Results
# (bench.log, results.md, results.json, the tuning cache) go to OUT_DIR.
#
#   bash scripts/gpu_bench.sh [BUNDLE_DIR=.gpu] [OUT_DIR=bench/gpu]
#
# The Vulkan loader (libvulkan.so.1) comes from the bundle when the machine
# has none (as root); on machines whose NVIDIA driver registers no Vulkan
# ICD, the driver's own manifest under /usr/local/nvidia is used. Exits non-zero when Dawn finds no GPU adapter,
# so a CPU fallback is never mistaken for a GPU table (GPU_BENCH_ALLOW_CPU=1
# runs it anyway, to try the script on a machine without a GPU).
set -euo pipefail
cd "$(dirname "$0")/.."
bundle=${1:-.gpu}
out=${2:-bench/gpu}
mkdir -p "$out"
log="$out/bench.log"

node_dir=/tmp/moec-node
if [ ! -x "$node_dir/bin/node" ]; then
  mkdir -p "$node_dir"
  xz -dc "$bundle/node.tar.xz" | tar -xf - -C "$node_dir"
fi
export PATH="$node_dir/bin:$PATH"
[ -e node_modules ] || ln -s "$node_dir/lib/node_modules" node_modules

# Dawn needs the Vulkan loader; unpack the bundled one where the machine has none.
if ! ldconfig -p | grep -q 'libvulkan.so.1 ' && ls "$bundle"/libvulkan1_*.deb >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  for f in "$bundle"/libvulkan1_*.deb; do dpkg -x "$f" /; done
  ldconfig
fi

probe() { node scripts/probe_adapter.mjs 2>&1 | grep -v '^Warning: ' | tail -n 1; }
adapter=$(probe)
icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
if [[ "$adapter" != "WebGPU adapter:"* || "$adapter" == *llvmpipe* ]] && [ -f "$icd" ]; then
  export VK_DRIVER_FILES="$icd" VK_ICD_FILENAMES="$icd"
  adapter=$(probe)
fi
{
  echo "# moec benchmark on ${HOSTNAME:-$(uname -n)}, $(date -u +%Y-%m-%dT%H:%MZ)"
  echo "# $adapter"
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | sed 's/^/# GPU: /'
  echo "# CPU: $(nproc) cores, Node $(node --version)"
} | tee "$log"
if [[ "$adapter" != "WebGPU adapter:"* ]] || [[ "$adapter" == *llvmpipe* && -z "${GPU_BENCH_ALLOW_CPU:-}" ]]; then
  echo "gpu_bench.sh: Dawn found no GPU adapter (probe: ${adapter#WebGPU adapter: }); not benchmarking a CPU fallback" | tee -a "$log" >&2
  exit 1
fi

# A fresh tuning cache: tiles are chosen by measurement on this adapter.
export MOEC_CACHE_DIR="$out/cache"
set +e
node --import tsx bench/run.ts ${BENCH_ARGS---quick} 2>&1 | grep --line-buffered -v '^Warning: ' | tee -a "$log"
status=${PIPESTATUS[0]}
set -e
cp bench/results.md bench/results.json "$out/" 2>/dev/null || true
exit "$status"
