#!/usr/bin/env bash
# One command from a fresh clone to a running Zongzhi on SQLite with the demo data:
#   bash scripts/run.sh            (PORT=8000 bash scripts/run.sh for another port)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
PORT="${PORT:-5000}"
flask db upgrade
flask roles sync
flask seed demo
# The rollups are derived data: recount them when an upgrade left them behind.
flask stats check --quiet >/dev/null || flask stats rebuild
# The job queue's worker (webhook deliveries, deadline warnings and their text messages and
# e-mails), beside the web app; it stops with it.
huey_consumer app.jobs.huey --flush-locks --workers 1 --delay 0.1 --max-delay 1 --logfile instance/jobs.log &
JOBS=$!
trap 'kill $JOBS 2>/dev/null' EXIT
echo
echo "Zongzhi is running at http://127.0.0.1:${PORT}/"
echo "Demo logins (password Zongzhi#2025demo): admin, centre_admin, staff, liaison, leader, auditor"
echo
gunicorn --config gunicorn.conf.py --bind "127.0.0.1:${PORT}" run:app
