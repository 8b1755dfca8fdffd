"""The job queue: every run recorded and shown to the administrator (running, done, failed with
the error); a worker killed in the middle of a job and started again finishes the work, the
cut-short run marked, nothing lost."""

import http.server
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time

import pytest
from sqlalchemy import select

from app import jobs, models, notices, outbox
from app.extensions import db
from tests.test_workflow import new_case, people  # noqa: F401  (a fixture)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def immediate(app):
    """huey runs each job at once, in this app (the suite's setting, tests/conftest.py)."""
    assert jobs.huey.immediate and jobs._APP == [app]
    return jobs.huey


def _runs():
    db.session.rollback()
    return {(r.name, r.status): r for r in db.session.scalars(select(models.JobRun))}


def test_runs_are_recorded_and_shown_to_the_administrator(immediate, login_as, monkeypatch):
    """A scan and the sending it queues are recorded as done; a failing job as failing with its
    error, in words; the administrator's screen lists both and can start a job; window staff
    cannot open it."""
    jobs.scan_deadlines()
    runs = _runs()
    assert runs[("scan_deadlines", "done")].finished_at is not None
    assert ("deliver_notices", "done") in runs

    def broken(session):
        raise RuntimeError("网关配置错误")

    monkeypatch.setattr(notices, "deliver_due", broken)
    jobs.deliver_notices()
    failed = _runs()[("deliver_notices", "retrying")]
    assert failed.error == "RuntimeError: 网关配置错误" and failed.retries_left == 3
    client = login_as("admin")
    page = client.get("/jobs/").get_data(as_text=True)
    assert "后台任务" in page and "期限扫描" in page and "失败，将重试" in page
    assert "网关配置错误" in page
    assert "网关配置错误" in client.get("/jobs/?status=retrying").get_data(as_text=True)
    assert "网关配置错误" not in client.get("/jobs/?status=done").get_data(as_text=True)
    assert client.post("/jobs/run/scan_deadlines").status_code == 302
    assert client.post("/jobs/run/nonsense").status_code == 404
    staff = login_as("staff")
    assert staff.get("/jobs/").status_code in (302, 403)


def test_a_database_error_is_named_not_quoted():
    """The jobs screen never shows a statement or the driver's words."""
    from sqlalchemy.exc import OperationalError

    error = OperationalError("SELECT secret FROM t", {}, Exception("disk I/O error at row 5"))
    assert jobs.problem_text(error) == "OperationalError (Exception)"


class SlowReceiver(http.server.BaseHTTPRequestHandler):
    """A webhook receiver that hangs on its first request (until `release`), then answers."""

    got = []
    first = threading.Event()
    release = threading.Event()

    def do_POST(self):  # noqa: N802
        """Record the delivery; the first one hangs."""
        body = self.rfile.read(int(self.headers["Content-Length"]))
        SlowReceiver.got.append((self.headers["Idempotency-Key"], body))
        if not SlowReceiver.first.is_set():
            SlowReceiver.first.set()
            SlowReceiver.release.wait(60)
            return
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        """Quiet."""


def _consumer(app, folder):
    env = {**os.environ, "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
           "SECRET_KEY": "jobs-test-secret", "ZONGZHI_INSTANCE": folder,
           "CACHE_DIR": os.path.join(folder, "cache")}
    env.pop("REDIS_URL", None)
    log = open(os.path.join(folder, "consumer.log"), "a")
    return subprocess.Popen(
        [os.path.join(os.path.dirname(sys.executable), "huey_consumer"), "app.jobs.huey",
         "--flush-locks", "--workers", "1", "--delay", "0.1", "--max-delay", "0.5"],
        cwd=ROOT, env=env, stdout=log, stderr=log)


def _wait(condition, seconds, what):
    deadline = time.time() + seconds
    while time.time() < deadline:
        db.session.rollback()
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.concurrency
def test_a_worker_killed_mid_job_finishes_the_work_when_started_again(app, people):
    """A real worker is killed (SIGKILL) while a webhook delivery hangs; started again, it
    marks the run cut short and delivers every event (the hung one again, under the same
    idempotency key, so an idempotent receiver sees each once)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), SlowReceiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    SlowReceiver.got = []
    SlowReceiver.first.clear()
    SlowReceiver.release.clear()
    runner = app.test_cli_runner()
    assert runner.invoke(args=["clients", "create", "upper", "--role", "leader", "--scope",
                               "652701"]).exit_code == 0
    url = f"http://127.0.0.1:{server.server_port}/hook"
    assert runner.invoke(args=["webhooks", "subscribe", "upper", url]).exit_code == 0
    for _ in range(3):
        new_case(people["bole"], at=models.now())
    outbox.publish(db.session)
    end = outbox.position(db.session)
    db.session.commit()
    db.session.remove()
    folder = tempfile.mkdtemp(prefix="zongzhi-jobs-")
    worker = _consumer(app, folder)
    try:
        assert SlowReceiver.first.wait(90), open(os.path.join(folder, "consumer.log")).read()
        _wait(lambda: ("deliver_webhooks", "running") in _runs(), 30, "the run to be recorded")
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
        SlowReceiver.release.set()
        assert db.session.scalar(select(models.WebhookSubscription.last_seq)) < end
        worker = _consumer(app, folder)
        _wait(lambda: db.session.scalar(select(models.WebhookSubscription.last_seq)) == end,
              90, "the deliveries after the restart")
        _wait(lambda: db.session.scalar(select(models.JobRun.id).filter_by(
            status="interrupted", error="worker_stopped")) is not None, 30, "the cut-short run")
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        server.shutdown()
    db.session.rollback()
    runs = db.session.execute(select(models.JobRun.name, models.JobRun.status,
                                     models.JobRun.error)).all()
    assert ("deliver_webhooks", "interrupted", "worker_stopped") in runs
    assert any(name == "deliver_webhooks" and status == "done" for name, status, _e in runs)
    keys = [key for key, _body in SlowReceiver.got]
    assert len(set(keys)) == 3 and keys.count(keys[0]) == 2 and len(keys) == 4


def test_old_runs_and_long_read_messages_are_forgotten(immediate, people):
    """The hourly prune keeps failures a month, finished runs a day, read messages a year;
    unread ones stay."""
    import datetime

    now = models.now()
    case = new_case(people["bole"], at=now)
    old, yesterday = now - datetime.timedelta(days=400), now - 2 * jobs.KEEP_FINISHED
    db.session.add_all([
        models.JobRun(task_id="a", name="x", status="done", started_at=yesterday),
        models.JobRun(task_id="b", name="x", status="failed", started_at=yesterday),
        models.JobRun(task_id="c", name="x", status="done", started_at=now),
        models.Notice(user_id=people["bole"].id, kind="returned", key="old-read",
                      dispute_id=case.id, created_at=old, read_at=old),
        models.Notice(user_id=people["bole"].id, kind="returned", key="old-unread",
                      dispute_id=case.id, created_at=old)])
    db.session.commit()
    jobs.prune_job_runs.call_local()
    db.session.rollback()
    assert set(db.session.scalars(select(models.JobRun.task_id))) >= {"b", "c"}
    assert "a" not in set(db.session.scalars(select(models.JobRun.task_id)))
    assert set(db.session.scalars(select(models.Notice.key))) == {"old-unread"}
