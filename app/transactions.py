"""How a request's database transaction ends.

A request that wrote nothing ends its transaction with COMMIT rather than Flask-SQLAlchemy's
ROLLBACK. The two are the same to the database for a read, but psycopg forgets its prepared
statements on every rollback, and without them PostgreSQL plans every statement of every
request again (planning was most of the time of the list's statements: 1 to 2 ms each).
"""

from sqlalchemy import event
from sqlalchemy.orm import Session

from app.extensions import db

WROTE = "transactions.wrote"


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
    finally:
        session.expire_on_commit = True


def init_app(app):
    """Watch flushes; end read-only transactions before the session is removed."""
    if not event.contains(Session, "after_flush", _note_write):
        event.listen(Session, "after_flush", _note_write)
        event.listen(Session, "after_commit", _forget)
        event.listen(Session, "after_rollback", _forget)
    # At the end of the request, before its app context (and Flask-SQLAlchemy's removal of
    # the session with a rollback) goes.
    app.teardown_request(end_read_only)
