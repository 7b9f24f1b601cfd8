#!/usr/bin/env bash
# One command from a fresh clone to a full test run (real models, real index, real browser).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
echo "==> ruff check (configured in pyproject.toml)"
.venv/bin/ruff check .
echo "==> running the tests"
exec .venv/bin/python -m pytest "$@"
