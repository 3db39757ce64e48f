#!/usr/bin/env bash
# The main job: set up, then compile every shipped spec and summarise it
# (parameters, active parameters per token, FLOPs per token, kernels).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
for spec in specs/*.moe; do
  node bin/moec.js check "$spec" 2>/dev/null >/dev/null || true
  node bin/moec.js info "$spec"
  echo
done
