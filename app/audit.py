"""The audit trail: one append-only record per security-relevant event, with personal data redacted."""

import json
import logging

from flask import has_request_context, request
from flask_appbuilder.security.sqla.models import Role
from flask_login import current_user
from sqlalchemy import insert, inspect

from app import models, transactions
from app.extensions import db

log = logging.getLogger(__name__)
REDACTED = "***"
# Rows the system writes for itself; auditing them would only repeat the events that caused them.
UNTRACKED = {"audit_log", "login_session", "account_state", "ab_permission", "ab_view_menu",
             "ab_permission_view", "outbox_event", "notice", "notice_delivery", "job_run"}
# Secrets (a password's hash, a token's, a webhook's signing key) never reach the trail.
SECRET_COLUMNS = {"password", "secret", "secret_hash"}
# Login bookkeeping Flask-AppBuilder updates on every sign-in.
USER_NOISE = {"last_login", "login_count", "fail_login_count", "changed_on", "changed_by_fk"}


def _client_ip():
    """The client's address: the connection's, or behind PROXY_COUNT trusted proxies the one
    they report (Werkzeug's ProxyFix has put it in remote_addr); X-Forwarded-For sent by a
    client itself is never believed."""
    if not has_request_context():
        return None
    return request.remote_addr


def _actor():
    """(user id, username) of the signed-in user, or (None, None)."""
    if has_request_context() and getattr(current_user, "is_authenticated", False):
        return current_user.id, current_user.username
    return None, None


def _row(action, object_type=None, object_id=None, outcome="success", detail=None, user_id=None,
         username=None):
    """The values of one audit record."""
    actor_id, actor_name = _actor()
    return {
        "at": models.now(),
        "user_id": user_id if user_id is not None else actor_id,
        "username": username if username is not None else actor_name,
        "ip": _client_ip(),
        "action": action,
        "object_type": object_type,
        "object_id": None if object_id is None else str(object_id),
        "outcome": outcome,
        "detail": json.dumps(detail, ensure_ascii=False, default=str) if detail else None,
    }


PENDING = "zongzhi.audit_pending"


def record(action, object_type=None, object_id=None, outcome="success", detail=None,
           user_id=None, username=None):
    """Write one audit record in its own transaction, whatever happens to the request's."""
    row = _row(action, object_type, object_id, outcome, detail, user_id, username)
    if _holding_sqlite_write_lock():
        request.environ.setdefault(PENDING, []).append(row)  # written when the request ends
        return
    _write([row])


def _write(rows):
    """Insert audit records on a connection of their own."""
    with db.engine.begin() as conn:
        conn.execute(insert(models.AuditLog.__table__), rows)


def _holding_sqlite_write_lock():
    """True while this request's transaction holds SQLite's one write lock (it began
    IMMEDIATE, or it wrote): a second connection cannot write until it ends."""
    if not has_request_context() or db.engine.dialect.name != "sqlite":
        return False
    session = db.session()
    return session.in_transaction() and (request.method not in transactions.READING
                                         or session.info.get(transactions.WROTE, False))


def write_pending(error=None):
    """At the end of a request: the records that waited for SQLite's write lock, written once
    the request's own transaction is over (committed by the view, or rolled back here)."""
    rows = request.environ.pop(PENDING, None)
    if not rows:
        return

    transactions.end_read_only(error)
    session = db.session()
    if session.in_transaction():
        session.rollback()  # what the session's removal would do next
    try:
        _write(rows)
    except Exception:  # the response is made: a lost record is logged, never a failed request
        log.exception("audit records could not be written: %s", rows)


def _redact(obj, key, value):
    """A value fit for the audit trail: personal columns never appear."""
    if key in getattr(type(obj), "personal_columns", {}) or key in SECRET_COLUMNS:
        return REDACTED if value else value
    if isinstance(value, list):  # a collection: roles by their codes, other rows in words
        return [v.name if isinstance(v, Role) else str(v) for v in value]
    return value if value is None or isinstance(value, (int, float, bool)) else str(value)


def _changes(obj):
    """{attribute: [old, new]} for what a pending update changes, personal data redacted."""
    state = inspect(obj)
    changed = {}
    for attr in state.mapper.attrs:
        history = state.attrs[attr.key].history
        if not history.has_changes():
            continue
        if attr.key in state.mapper.relationships:  # a collection: the whole of it before, after
            kept = list(history.unchanged or [])
            old, new = kept + list(history.deleted), kept + list(history.added)
        else:
            old = history.deleted[0] if history.deleted else None
            new = history.added[0] if history.added else None
        changed[attr.key] = [_redact(obj, attr.key, old), _redact(obj, attr.key, new)]
    return changed


def _update_action(obj, changes):
    """The audit action an update amounts to (role and permission changes are named as such)."""
    table = obj.__tablename__
    if table == "ab_user":
        if "roles" in changes:
            return "role_change"
        if "password" in changes:
            return "password_change"
    if table == "ab_role" and "permissions" in changes:
        return "permission_change"
    return "update"


def _before_flush(session, flush_context, instances):
    """Note what this flush creates, changes and deletes, while the old values are still known."""
    if not (has_request_context() and getattr(current_user, "is_authenticated", False)):
        return
    pending = session.info.setdefault("zz_audit", [])
    for obj in session.new:
        if getattr(obj, "__tablename__", None) not in UNTRACKED:
            pending.append(("create", obj, None))
    for obj in session.dirty:
        table = getattr(obj, "__tablename__", None)
        if table in UNTRACKED or not session.is_modified(obj):
            continue
        changes = _changes(obj)
        if table == "ab_user":
            changes = {k: v for k, v in changes.items() if k not in USER_NOISE}
        if changes:
            pending.append((_update_action(obj, changes), obj, changes))
    for obj in session.deleted:
        if getattr(obj, "__tablename__", None) not in UNTRACKED:
            pending.append(("delete", obj, {"was": str(obj)}))


def _after_flush(session, flush_context):
    """Write the noted records in the same transaction as the change itself."""
    pending = session.info.pop("zz_audit", [])
    if not pending:
        return
    rows = []
    for action, obj, detail in pending:
        key = inspect(obj).mapper.primary_key_from_instance(obj)
        rows.append(_row(action, obj.__tablename__, key[0] if key else None, detail=detail))
    session.connection().execute(insert(models.AuditLog.__table__), rows)


def init_app(app):
    """Write what a request's failed transaction left to record (the flush hooks are installed
    by app.session_hooks)."""
    app.teardown_request(write_pending)
