"""The job queue (huey): work that must not run inside a web request. Its queue is a SQLite
file in the instance folder, or Redis when REDIS_URL is set; the worker is started beside
the web app by scripts/run.sh (`huey_consumer app.jobs.huey`), builds the app once and runs
each job in its context. Jobs are idempotent (a retried or repeated one does no harm).

- `deliver_webhooks`: queued after every commit that wrote case events, and every minute;
  sends each subscription what it has not acknowledged.
"""

import logging
import os

from huey import RedisHuey, SqliteHuey, crontab

from config import INSTANCE_DIR

log = logging.getLogger(__name__)


def _make():
    """The queue: Redis when REDIS_URL is set, else a SQLite file beside the app's data."""
    url = os.environ.get("REDIS_URL")
    if url:
        return RedisHuey("zongzhi", url=url)
    os.makedirs(INSTANCE_DIR, exist_ok=True)
    return SqliteHuey("zongzhi", filename=os.path.join(INSTANCE_DIR, "jobs.db"))


huey = _make()
_APP = []


def _app():
    """The app the worker's jobs run in, built once per worker process."""
    if not _APP:
        from app import create_app

        _APP.append(create_app())
    return _APP[0]


@huey.task(retries=3, retry_delay=5)
@huey.lock_task("deliver-webhooks")
def deliver_webhooks():
    """Send every due webhook (one worker at a time: the lock)."""
    from app import webhooks
    from app.extensions import db

    with _app().app_context():
        try:
            return webhooks.deliver_due(db.session)
        finally:
            db.session.remove()


@huey.periodic_task(crontab(minute="*"))
def deliver_webhooks_every_minute():
    """The same, every minute: retries whose wait is over, and anything a lost queue entry
    left behind."""
    deliver_webhooks()


def events_committed():
    """After a commit that wrote case events: queue a delivery (one delivery sends everything
    due, so a queue of them costs little); never fails the request."""
    try:
        deliver_webhooks()
    except Exception:  # noqa: BLE001 — the commit stands; the minute's run delivers
        log.warning("webhook delivery not queued", exc_info=True)
