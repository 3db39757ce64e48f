#!/usr/bin/env bash
# The main job: set up, then train the shipped Switch spec on the built-in
# synthetic corpus (progress, metrics, checkpoint, HTML report).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
out="runs/switch-$(date +%Y%m%d-%H%M%S)"
exec node bin/moec.js train specs/switch.moe --out "$out"
