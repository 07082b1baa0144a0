#!/usr/bin/env bash
# README command 1: install everything, then run the demo (Girder + HistomicsUI + Histomics Label, Redis,
# a Celery worker, a seeded slide). Options are passed to devops/serve.py (--port, --mongo-uri, --data-dir,
# --save-interval, ...); its data (embedded database snapshot, files, logs) is kept in .demo/ by default.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/devops/install.sh"
exec "${VENV:-$ROOT/.venv}/bin/python" "$ROOT/devops/serve.py" "$@"
