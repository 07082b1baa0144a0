#!/usr/bin/env bash
# README command 2: install everything (with test dependencies), lint the web client (eslint with
# @girder/eslint-config and plugin:vue/recommended, devops/lint), then run the whole test suite.
# Extra arguments go to pytest, e.g. `devops/test.sh --mongo-uri mongodb://127.0.0.1:27017` for a real
# MongoDB instead of the default in-process mongomock, or `devops/test.sh tests/core`.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/devops/install.sh" --test
npm --prefix "$ROOT/devops/lint" run --silent lint
cd "$ROOT"
exec "${VENV:-$ROOT/.venv}/bin/pytest" tests -p no:cacheprovider "$@"
