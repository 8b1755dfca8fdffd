"""How a request's database transaction begins, ends and fails.

- SQLite: a request that may write (any method but GET, HEAD, OPTIONS) begins its transaction
  with BEGIN IMMEDIATE, taking the one write lock at once and waiting for it (busy timeout);
  a deferred transaction that read first and then wrote would fail at once when another
  writer committed in between. Reads begin deferred and never wait.
- A request that wrote nothing ends its transaction with COMMIT rather than Flask-SQLAlchemy's
  ROLLBACK. The two are the same to the database for a read, but psycopg forgets its prepared
  statements on every rollback, and without them PostgreSQL plans every statement again.
- saving() is how screens and the API save: a stale version becomes VersionConflict, any other
  database failure SaveFailed with a Chinese message that names no SQL, no values and no
  library; the failure itself is logged in full.
"""

import contextlib
import logging

from flask import has_request_context, request
from flask_babel import gettext
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError
from sqlalchemy.orm.exc import StaleDataError

from app.extensions import db
from app.workflow import VersionConflict

log = logging.getLogger(__name__)
WROTE = "transactions.wrote"
READING = {"GET", "HEAD", "OPTIONS"}


class SaveFailed(Exception):
    """The database did not take a write; the message says so in words for people.
    `conflict`: the row clashed with data saved in the meantime (a duplicate, a rule)."""

    def __init__(self, message, conflict=False):
        super().__init__(message)
        self.conflict = conflict


def stale_message():
    """What a person is told when someone else saved the record first."""
    return gettext("Someone else changed this case after you opened it. Reload the page and "
                   "try again.")


def explain(error):
    """A database failure in words for people: nothing of the SQL, the values or the driver."""
    text = str(getattr(error, "orig", error)).lower()
    if isinstance(error, IntegrityError):
        return gettext("The record conflicts with data saved in the meantime (a duplicate or a "
                       "missing linked record). Nothing was saved; check the values and save "
                       "again.")
    if "full" in text or "no space" in text or "disk" in text:
        return gettext("The database has no room to save (disk full). Nothing was saved; "
                       "please tell the system administrator.")
    if "read-only" in text or "readonly" in text or "read only" in text:
        return gettext("The database is read-only at the moment. Nothing was saved; please "
                       "tell the system administrator.")
    if "lock" in text or "deadlock" in text or "busy" in text or "timeout" in text:
        return gettext("The system is busy. Nothing was saved; please save again.")
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return gettext("The connection to the database was lost. Nothing was saved; please "
                       "save again.")
    return gettext("The database could not save this. Nothing was saved; please try again, "
                   "and tell the system administrator if it happens again.")


@contextlib.contextmanager
def saving(session=None):
    """Around a change and its commit: a stale version (found at any flush, autoflush
    included) becomes workflow.VersionConflict, any other database failure SaveFailed; the
    transaction is rolled back and the failure logged in full."""
    session = session or db.session
    try:
        yield session
    except StaleDataError:
        session.rollback()
        raise VersionConflict(stale_message()) from None
    except SQLAlchemyError as error:
        log.exception("database write failed")
        session.rollback()
        raise SaveFailed(explain(error), isinstance(error, IntegrityError)) from None


VIEW = "zongzhi.view_started"


def _begin(connection):
    """SQLite: begin every transaction ourselves, taking the write lock at once when the view
    of a request that may write runs (the sign-in checks before it only read)."""
    if connection.dialect.name != "sqlite":
        return
    writing = has_request_context() and request.method not in READING \
        and request.environ.get(VIEW, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if writing else "BEGIN")


def view_starts():
    """The last check before a view: on SQLite, end the checks' read transaction of a request
    that may write, so that the view's transaction begins IMMEDIATE (holding the one write lock
    only while the view runs)."""
    if request.method in READING:
        return
    request.environ[VIEW] = True
    session = db.session()
    if db.engine.dialect.name != "sqlite" or not session.in_transaction():
        return
    if session.info.get(WROTE) or session.new or session.dirty or session.deleted:
        return
    session.expire_on_commit = False  # the user and the login session stay loaded
    try:
        session.commit()
    finally:
        session.expire_on_commit = True


def _note_write(session, flush_context):
    """Remember that this transaction flushed changes."""
    session.info[WROTE] = True


def _forget(session):
    """A new transaction starts clean."""
    session.info.pop(WROTE, None)


def end_read_only(error=None):
    """Commit the request's transaction when it only read; anything else is left to the
    rollback that follows."""
    session = db.session()
    if error is not None or not session.in_transaction() or session.info.get(WROTE):
        return
    if session.new or session.dirty or session.deleted:
        return
    # The session is closed next: expiring every loaded object first would be wasted work.
    session.expire_on_commit = False
    try:
        session.commit()
    except SQLAlchemyError:
        session.rollback()  # nothing was written: a failed COMMIT of a read loses nothing
    finally:
        session.expire_on_commit = True


def init_app(app):
    """End read-only transactions before the session is removed (the hooks that begin SQLite
    transactions and watch flushes are installed by app.session_hooks)."""
    # At the end of the request, before its app context (and Flask-SQLAlchemy's removal of
    # the session with a rollback) goes.
    app.teardown_request(end_read_only)
