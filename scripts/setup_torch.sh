#!/usr/bin/env bash
# Makes sure a Python with PyTorch is there for the PyTorch export's tests
# (tests/export): Debian's python3-torch (1.13, with gloo), installed when
# this runs as root on Debian, else the command to run is printed. With it
# comes OpenBLAS: Debian's torch links the reference BLAS otherwise, and its
# matrix products run about 10x slower (measured: 3.4 vs 40 GFLOP/s). Never
# fatal: without PyTorch the export tests fail with a message saying so.
# MOEC_PYTHON names a Python to use instead (any PyTorch 1.13 or 2.x).
set -uo pipefail

source "$(dirname "$0")/optional_install.sh"

has_torch() { "$1" -c 'import torch, torch.distributed as d; assert d.is_available()' >/dev/null 2>&1; }

for py in "${MOEC_PYTHON:-}" python3 /usr/bin/python3; do
  if [ -n "$py" ] && has_torch "$py"; then
    say "PyTorch: $("$py" -c 'import sys, torch; print(torch.__version__, "with", sys.executable)')"
    exit 0
  fi
done

if install_or_print python3-torch 'apt-get update && apt-get install -y python3-torch libopenblas0-pthread' 'the PyTorch export tests will fail (or set MOEC_PYTHON to a Python that has PyTorch)'; then
  has_torch /usr/bin/python3 && say "PyTorch: $(/usr/bin/python3 -c 'import torch; print(torch.__version__)') with /usr/bin/python3"
fi
exit 0
