#!/usr/bin/env bash
# Shared set-up, sourced by run.sh and test.sh: a virtual environment with the packages, and the
# translation catalogue compiled. Pass "dev" to include the test tools.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
requirements=requirements.txt
[ "${1:-}" = "dev" ] && requirements=requirements-dev.txt
stamp=".venv/.installed-$(cat requirements.txt requirements-dev.txt | sha1sum | cut -c1-12)-$requirements"
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -r "$requirements"
  touch "$stamp"
fi
.venv/bin/pybabel compile --use-fuzzy -q -d app/translations 2>/dev/null \
  || .venv/bin/pybabel compile -d app/translations
export PATH="$ROOT/.venv/bin:$PATH"
export FLASK_APP=run.py
