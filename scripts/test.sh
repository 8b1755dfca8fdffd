#!/usr/bin/env bash
# One command from a fresh clone to a passing test suite (SQLite, plus the browser tests):
#   bash scripts/test.sh           (extra arguments go to pytest)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh" dev
# The browser tests drive Debian's Chromium; install it (with CJK fonts for legible screenshots)
# when missing and we may. Without it they skip, saying why.
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "Installing chromium for the browser tests..."
  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq chromium fonts-noto-cjk >/dev/null || echo "chromium could not be installed"
fi
exec python -m pytest "$@"
