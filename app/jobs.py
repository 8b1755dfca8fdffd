"""The job queue (huey): work that must not run inside a web request. Its queue is a SQLite
file in the instance folder, or Redis when REDIS_URL is set; the worker is started beside
the web app by scripts/run.sh (`huey_consumer app.jobs.huey`), builds the app once and runs
each job in its context. Jobs are idempotent (a retried or repeated one does no harm), so a
worker killed mid-job loses nothing: on its next start it runs each of them once more.

- `deliver_webhooks`: queued after every commit that wrote case events, and every minute;
  sends each subscription what it has not acknowledged.
- `scan_deadlines`: every minute; writes the deadline warnings due (app/notices.py) and queues
  `deliver_notices`, which sends their text-message and e-mail copies.
- `export_list`: a list export too long for a request, as the person who asked; the file is
  offered in their message centre.
- `statistics_batch`: the statistics PDFs of an area and every county below it, in one ZIP
  offered in the message centre of the person who asked.
- `prune_job_runs`: every hour; forgets finished runs older than a day and messages read
  longer ago than NOTICE_KEEP_DAYS.

Each run is recorded in `job_run` as the worker sees it (running, done, failed with the
error, cut short), for the administrator's jobs screen beside what waits in the queue.
"""

import contextlib
import datetime
import logging
import os
import socket

from flask import g, has_app_context
from huey import RedisHuey, SqliteHuey, crontab, signals
from sqlalchemy import delete, exc as sa_exc, insert, select, update

from app import models
from config import INSTANCE_DIR

log = logging.getLogger(__name__)
WORKER = f"{socket.gethostname()}:{os.getpid()}"
KEEP_FINISHED = datetime.timedelta(days=1)


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


def _in_app(work):
    """Run work(db.session) in the app's context, the session removed afterwards."""
    from app.extensions import db

    with _app().app_context():
        try:
            return work(db.session)
        finally:
            db.session.remove()


@huey.task(retries=3, retry_delay=5)
@huey.lock_task("deliver-webhooks")
def deliver_webhooks():
    """Send every due webhook (one worker at a time: the lock)."""
    from app import webhooks

    return _in_app(webhooks.deliver_due)


@huey.task(retries=3, retry_delay=5)
@huey.lock_task("scan-deadlines")
def scan_deadlines():
    """Write the deadline warnings due now, then queue the sending of their copies."""
    from app import notices

    written = _in_app(notices.scan)
    deliver_notices()
    return written


@huey.task(retries=3, retry_delay=10)
@huey.lock_task("deliver-notices")
def deliver_notices():
    """Send the text messages and e-mails whose time has come."""
    from app import notices

    return _in_app(notices.deliver_due)


@contextlib.contextmanager
def _as_person(user, path):
    """A request at `path` signed in as the user, in the default language: the scope,
    masking, rights and audit of the screens then apply to the job's work."""
    from flask import current_app
    from flask_babel import force_locale
    from flask_login import login_user

    app = current_app._get_current_object()
    with app.test_request_context(path), \
            force_locale(app.config.get("BABEL_DEFAULT_LOCALE", "zh")):
        login_user(user)
        g.user = user  # as Flask-AppBuilder's before-request sets it
        yield


def _offer(session, user_id, task, prefix, title, make):
    """Make a file for the person and offer it in their message centre: `make()` gives
    (storage key, file name, the message's detail, how many rows or files), which is
    returned; a failure is told there once, when no retry is left, and raised."""
    try:
        key, name, detail, count = make()
    except Exception:
        session.rollback()
        if not task.retries:
            session.add(models.Notice(user_id=user_id, kind="export_failed",
                                      key=f"{prefix}:{task.id}:failed", detail=title[:200]))
            session.commit()
        raise
    # The work's reads end before the message is written (on SQLite a read that saw the
    # database before the audit record's commit could not write).
    session.rollback()
    session.add(models.Notice(user_id=user_id, kind="export_ready",
                              key=f"{prefix}:{task.id}:ready", file_key=key, file_name=name,
                              detail=detail[:200]))
    session.commit()
    return count


def _person(session, user_id):
    """The active login a job works for, or None."""
    from flask_appbuilder.security.sqla.models import User

    user = session.get(User, user_id)
    return user if user is not None and user.is_active else None


@huey.task(retries=1, retry_delay=30, context=True)
def export_list(user_id, view_name, fmt, query, task=None):
    """Export a list too long for a request, as the person who asked (their scope, masking
    and rights), and offer the file in their message centre; a failure is told there too."""
    from flask import current_app
    from flask_babel import gettext

    from app import exporting

    def work(session):
        user = _person(session, user_id)
        view = next((v for v in current_app.appbuilder.baseviews
                     if type(v).__name__ == view_name), None)
        if user is None or view is None:
            return None
        with _as_person(user, f"{view.route_base}/list/" + (f"?{query}" if query else "")):
            title = str(view.list_title)

            def make():
                key, name, count = exporting.export_in_background(view, fmt)
                return key, name, gettext("%(list)s, %(rows)s rows", list=title,
                                          rows=count), count

            return _offer(session, user_id, task, "export", title, make)

    return _in_app(work)


@huey.task(retries=1, retry_delay=30, context=True)
def statistics_batch(user_id, region_id, period_code, task=None):
    """The statistics PDF of an area and of every county below it, as the person who asked,
    in one ZIP offered in their message centre."""
    from flask_babel import gettext

    from app import audit, caches, reports, scope, stats, storage

    def work(session):
        user = _person(session, user_id)
        if user is None:
            return None
        with _as_person(user, "/dashboard/"):
            areas = caches.areas(session, scope.current())
            area = stats.area_for(session, scope.current(), str(region_id), areas)
            if area is None or area.region_id != region_id:
                return None  # no longer inside their scope
            period = stats.Period.parse(period_code)
            title = gettext("Statistics of %(area)s, %(period)s", area=area.name,
                            period=period.label)

            def make():
                content, count = reports.statistics_batch(
                    session, areas, area, period, user,
                    lambda each: caches.report(session, each, period))
                key, _size, _digest = storage.storage().put(content)
                audit.record("export", "report", detail={
                    "area": area.name, "period": period.code, "pdfs": count,
                    "background": True})
                return key, f"statistics-{region_id}-{period.code}.zip", gettext(
                    "%(title)s, %(count)s PDFs", title=title, count=count), count

            return _offer(session, user_id, task, "batch", title, make)

    return _in_app(work)


@huey.periodic_task(crontab(minute="*"))
def every_minute():
    """Deadline warnings, and webhook retries whose wait is over (and anything a lost queue
    entry left behind)."""
    scan_deadlines()
    deliver_webhooks()


@huey.periodic_task(crontab(minute="7"))
def prune_job_runs():
    """Forget finished runs older than a day (failures are kept a month), and messages read
    longer ago than NOTICE_KEEP_DAYS (with their copies; their files stay in the storage)."""
    from flask import current_app

    def prune(session):
        now = models.now()
        run, notice = models.JobRun, models.Notice
        session.execute(delete(run).where(run.status == "done",
                                          run.started_at < now - KEEP_FINISHED))
        session.execute(delete(run).where(run.started_at < now - 30 * KEEP_FINISHED))
        kept = datetime.timedelta(days=current_app.config["NOTICE_KEEP_DAYS"])
        old = select(notice.id).where(notice.read_at < now - kept)
        session.execute(delete(models.NoticeDelivery).where(
            models.NoticeDelivery.notice_id.in_(old)))
        session.execute(delete(notice).where(notice.read_at < now - kept))
        session.commit()
    _in_app(prune)


def events_committed():
    """After a commit that wrote case events: queue a delivery (one delivery sends everything
    due, so a queue of them costs little); never fails the request."""
    try:
        deliver_webhooks()
    except Exception:  # noqa: BLE001 — the commit stands; the minute's run delivers
        log.warning("webhook delivery not queued", exc_info=True)


def _engine():
    from app.extensions import db

    if has_app_context():
        return db.engine
    with _app().app_context():
        return db.engine


def problem_text(error):
    """What the jobs screen says went wrong: the kind of error and its message, without the
    database's own words (a statement, a driver's message)."""
    if isinstance(error, sa_exc.DBAPIError):
        return f"{type(error).__name__} ({type(error.orig).__name__})"
    if isinstance(error, sa_exc.SQLAlchemyError):  # its text may quote a statement
        return type(error).__name__
    return f"{type(error).__name__}: {error}"[:2000]


def _record(signal, task, error=None):
    """Note a run's progress in job_run (never fails the job)."""
    run = models.JobRun.__table__
    now = models.now()
    try:
        with _engine().begin() as conn:
            if signal == signals.SIGNAL_EXECUTING:
                changed = conn.execute(update(run).where(run.c.task_id == task.id).values(
                    status="running", started_at=now, finished_at=None, worker=WORKER,
                    retries_left=task.retries))
                if not changed.rowcount:
                    conn.execute(insert(run).values(
                        task_id=task.id, name=task.name, status="running", started_at=now,
                        worker=WORKER, retries_left=task.retries))
                return
            values = {"finished_at": now}
            if signal == signals.SIGNAL_COMPLETE:
                values["status"] = "done"
            elif signal == signals.SIGNAL_LOCKED:
                values.update(status="done", result="locked")
            elif signal == signals.SIGNAL_ERROR:
                values.update(status="retrying" if task.retries else "failed",
                              error=problem_text(error))
            else:  # interrupted, timed out, cancelled
                values.update(status="interrupted", error=signal)
            conn.execute(update(run).where(run.c.task_id == task.id).values(**values))
    except Exception:  # noqa: BLE001 — the record is for people; the job's work stands
        log.warning("job run not recorded", exc_info=True)


@huey.signal(signals.SIGNAL_EXECUTING, signals.SIGNAL_COMPLETE, signals.SIGNAL_ERROR,
             signals.SIGNAL_LOCKED, signals.SIGNAL_INTERRUPTED, signals.SIGNAL_TIMEOUT,
             signals.SIGNAL_CANCELED)
def _on_signal(signal, task, exc=None):
    """Every run's progress, into job_run."""
    _record(signal, task, exc)


@huey.on_startup()
def _started():
    """A worker starting: the runs a killed worker of this host left "running" were cut short,
    and the idempotent jobs run once now to finish what they had begun (the consumer is
    started with --flush-locks, so a killed worker's locks do not hold them back)."""
    run = models.JobRun.__table__
    host = socket.gethostname()
    try:
        with _engine().begin() as conn:
            for task_id, worker in conn.execute(run.select().with_only_columns(
                    run.c.task_id, run.c.worker).where(run.c.status == "running")):
                name, _sep, pid = (worker or "").rpartition(":")
                if name == host and pid.isdigit() and int(pid) != os.getpid() and \
                        not _alive(int(pid)):
                    conn.execute(update(run).where(run.c.task_id == task_id).values(
                        status="interrupted", finished_at=models.now(),
                        error="worker_stopped"))
    except Exception:  # noqa: BLE001
        log.warning("interrupted runs not marked", exc_info=True)
    deliver_webhooks()
    scan_deadlines()


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def queued():
    """[(name, id, when)]: the jobs waiting in the queue and the ones scheduled (retries)."""
    waiting = [(t.name, t.id, None) for t in huey.pending(limit=200)]
    later = [(t.name, t.id, t.eta) for t in huey.scheduled(limit=200)]
    return waiting + later


RUNNABLE = {"deliver_webhooks": deliver_webhooks, "scan_deadlines": scan_deadlines,
            "deliver_notices": deliver_notices}
