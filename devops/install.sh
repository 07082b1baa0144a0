#!/usr/bin/env bash
# Install everything Histomics Label needs on a fresh Debian machine, idempotently:
# system packages (redis-server, chromium, node/npm if absent), a Python 3.11 venv with the plugin and the
# pinned DSA stack (plain, non-editable `pip install .`), and the Girder + HistomicsUI + plugin web client.
#   devops/install.sh [--test] [--editable]
#   --test      also install test dependencies (pytest-girder, playwright-core for the browser tests, the
#               client's eslint in devops/lint) and the Keras/TensorFlow extra
#   --editable  install the plugin in editable mode (development)
# Environment: VENV (default .venv in the checkout), PYTHON (default python3.11, else python3).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"
TEST=0; EDITABLE=0
for arg in "$@"; do
  case "$arg" in
    --test) TEST=1 ;;
    --editable) EDITABLE=1 ;;
    *) echo "unknown option $arg" >&2; exit 2 ;;
  esac
done
log() { printf '\n==> %s\n' "$*"; }

missing=()
command -v redis-server >/dev/null || missing+=(redis-server)
command -v npm >/dev/null || missing+=(nodejs npm)
if [ "$TEST" = 1 ] && ! command -v chromium >/dev/null; then missing+=(chromium); fi
if [ "${#missing[@]}" -gt 0 ]; then
  log "apt-get install ${missing[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PYTHON="${PYTHON:-$(command -v python3.11 || command -v python3)}"
"$PYTHON" -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required (pytest-girder 3.2 imports distutils)"'
if [ ! -x "$VENV/bin/python" ]; then
  log "creating $VENV"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip wheel setuptools 2>&1 | grep -v '^WARNING: Location' || true
fi

log "pip install the plugin and its pinned dependencies"
# demo: the embedded (mongomock) database of devops/serve.py; the tests run the demo too
extras="[ml,demo]"; [ "$TEST" = 1 ] && extras="[ml,keras,demo,test]"
target="$ROOT$extras"; [ "$EDITABLE" = 1 ] && target="-e $ROOT$extras"
# shellcheck disable=SC2086
"$VENV/bin/pip" install -q -c "$ROOT/requirements/constraints.txt" $target 2>&1 | grep -v '^WARNING: Location' || true
"$VENV/bin/python" -c 'import histomics_label.plugin' # fail here, clearly, if the install did not work

log "building the web client (Girder + HistomicsUI + Histomics Label)"
"$VENV/bin/python" "$ROOT/devops/build_client.py" --plugin-only

if [ "$TEST" = 1 ]; then
  log "npm ci for the browser tests (playwright-core drives Debian's chromium)"
  (cd "$ROOT/tests/browser" && npm ci --no-fund --no-audit --loglevel=error)
  log "npm ci for the client lint (eslint, plugin:vue/recommended)"
  (cd "$ROOT/devops/lint" && npm ci --no-fund --no-audit --loglevel=error)
fi
log "installed into $VENV"
