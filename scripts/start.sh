#!/usr/bin/env bash
# One command from a fresh clone to the running app: install, models, index of seeds/, chat UI.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "==> indexing seeds/"
.venv/bin/rag index seeds
exec .venv/bin/rag "${RAG_MAIN:-chat}"
