#!/usr/bin/env bash
# Create .venv and install the project (CPU torch first), then provision the models.
# Usage: scripts/setup.sh [--test]   (--test adds the test dependencies, the ragas extra its tests load, and Chromium)
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv"
  "$PY" -m venv .venv
fi
export PIP_DISABLE_PIP_VERSION_CHECK=1
echo "==> installing torch 2.13.0 (CPU build) and the project"
.venv/bin/pip install -q torch==2.13.0 2>&1 | grep -v "is ignored: it is neither" || true
if [ "${1:-}" = "--test" ]; then
  .venv/bin/pip install -q -e ".[test,ragas,qdrant,cluster]" 2>&1 | grep -v "is ignored: it is neither" || true
  if ! command -v chromium >/dev/null 2>&1; then
    echo "==> installing Chromium for the browser tests"
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -qq && $SUDO apt-get install -y -qq chromium >/dev/null
  fi
else
  .venv/bin/pip install -q -e . 2>&1 | grep -v "is ignored: it is neither" || true
fi
if [ ! -f /usr/share/dictd/freedict-eng-ara.index ]; then
  # optional (GPL word list): English questions reach the Arabic BM25 index and the refusal decision through it
  echo "==> installing the FreeDict English-Arabic word list (optional)"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq dict-freedict-eng-ara >/dev/null; } || echo "   (not installed: English retrieval uses the dense route only)"
fi
.venv/bin/python -c "import torch, sentence_transformers, faiss" || { echo "installation failed" >&2; exit 1; }
echo "==> provisioning models (skipped when already verified; the OpenVINO conversion, about 1.5 min, once)"
.venv/bin/rag models
