"""One business time zone: the same moment is stored, counted and shown alike whatever the
server's TZ (each probe runs in a process of its own, as a server would)."""

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _probe(tz, tmp_path):
    """The probe's findings in a process whose server clock is in this zone."""
    env = {**os.environ, "TZ": tz, "PYTHONPATH": ROOT}
    env.pop("ZONGZHI_TIMEZONE", None)
    url = f"sqlite:///{tmp_path / (tz.replace('/', '-') + '.db')}"
    done = subprocess.run([sys.executable, os.path.join(ROOT, "tests", "tz_probe.py"), url],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("tz", ["UTC", "America/New_York"])
def test_a_case_at_half_past_midnight_counts_the_same_on_any_server(tmp_path, tz):
    """Registered at 00:30 China time on 1 December: stored as that, counted in December and on
    the 1st, numbered in 2026, whether the server runs on China time or not."""
    china, other = _probe("Asia/Shanghai", tmp_path), _probe(tz, tmp_path)
    assert other == china
    assert china["registered_at"] == "2026-12-01T00:30:00"
    assert (china["december"], china["november"], china["first_day"]) == (1, 0, 1)
    assert china["today"] == "2026-12-01" and china["default_period"] == "2026-12"
    assert china["days_elapsed"] == 1 and china["report_time"] == "2026-12-01 00:30"
    assert china["case_no"].startswith("652701-2026-")
