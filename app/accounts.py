"""Account protection: password policy, lockout, forced password change and server-side sessions."""

import datetime
import logging
import re
import secrets

from flask import current_app, flash, jsonify, redirect, request, session, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user, logout_user, user_logged_in, user_logged_out
from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from werkzeug.security import check_password_hash
from wtforms.validators import ValidationError

from app import audit, clients, models
from app.extensions import db

log = logging.getLogger(__name__)

SESSION_KEY = "zz_sid"
# The login session the user loader read with the user: (session id, row or None).
LOADED_SESSION = "zongzhi.loaded_session"
# Endpoints a user who must change the password may still reach.
OPEN_ENDPOINTS = {"ResetMyPasswordView.this_form_get", "ResetMyPasswordView.this_form_post",
                  "AuthDBView.logout", "AuthDBView.login", "static", "appbuilder.static",
                  "LocaleView.index"}


def password_policy(password):
    """At least 10 characters from three of: upper case, lower case, digits, other signs."""
    classes = sum(bool(re.search(pattern, password or "")) for pattern in
                  (r"[A-Z]", r"[a-z]", r"\d", r"[^A-Za-z0-9]"))
    if len(password or "") < 10 or classes < 3:
        raise ValidationError(str(_l(
            "A password needs at least 10 characters and three of: capital letters, small "
            "letters, digits and other signs.")))


def _state(username, create=False):
    """The account state row of a login name."""
    row = db.session.get(models.AccountState, username)
    if row is None and create:
        row = models.AccountState(username=username, failures=0)
        db.session.add(row)
        try:
            db.session.flush()
        except IntegrityError:  # another worker created it first
            db.session.rollback()
            row = db.session.get(models.AccountState, username)
    return row


def locked_until(username):
    """When the lockout of a login name ends, or None."""
    row = db.session.get(models.AccountState, username)
    if row is not None and row.locked_until and row.locked_until > models.now():
        return row.locked_until
    return None


def _register_failure(username):
    """Count a failed sign-in in the database (shared by all workers); lock at the limit."""
    _state(username, create=True)
    db.session.execute(update(models.AccountState).where(models.AccountState.username == username)
                       .values(failures=models.AccountState.failures + 1))
    db.session.commit()
    row = db.session.get(models.AccountState, username)
    db.session.refresh(row)
    limit = current_app.config["LOCKOUT_FAILURES"]
    if row.failures >= limit:
        row.locked_until = models.now() + datetime.timedelta(
            minutes=current_app.config["LOCKOUT_MINUTES"])
        row.failures = 0
        db.session.commit()
        audit.record("lockout", "ab_user", username=username, outcome="denied",
                     detail={"failures": limit, "until": row.locked_until})


def account_key(sm, typed):
    """The one name an account's lockout is kept under, whatever was typed: Flask-AppBuilder
    signs in by the user name in any case and by the e-mail address, so each of those spellings
    is the account's own name; an unknown name counts under its small letters."""
    model = sm.user_model
    lowered = typed.lower()
    found = db.session.scalar(select(model.username).where(
        or_(func.lower(model.username) == lowered, func.lower(model.email) == lowered))
        .order_by(model.id).limit(1))
    return found or lowered


def authenticate(sm, username, password, check):
    """Sign-in with lockout: the same answer, and a hash check, whether or not the name exists.
    The lockout counts per account, not per spelling (account_key)."""
    typed = (username or "").strip()
    if not typed:
        return None
    username = account_key(sm, typed)
    if locked_until(username):
        check_password_hash(current_app.config["AUTH_DB_FAKE_PASSWORD_HASH_CHECK"], "password")
        audit.record("login_failed", "ab_user", username=username, outcome="denied",
                     detail={"reason": "locked"})
        flash(gettext("Too many failed sign-ins: this account is locked for %(minutes)s minutes.",
                      minutes=current_app.config["LOCKOUT_MINUTES"]), "warning")
        return None
    user = check(typed, password)
    if user is not None and user.username != username:  # not the account the key names
        user = None
    if user is None:
        audit.record("login_failed", "ab_user", username=username, outcome="failure")
        _register_failure(username)
        return None
    row = _state(username)
    if row is not None and row.failures:
        row.failures = 0
        db.session.commit()
    return user


def require_password_change(username):
    """Make a login change its password at the next sign-in (seeded and reset accounts)."""
    row = _state(username, create=True)
    row.must_change_password = True
    db.session.commit()


def _ending_sessions(user, keep=None):
    """The UPDATE that ends a login's live sessions on every worker, but the one named by keep."""
    query = update(models.LoginSession).where(models.LoginSession.user_id == user.id,
                                              models.LoginSession.ended_at.is_(None))
    if keep:
        query = query.where(models.LoginSession.id != keep)
    return query.values(ended_at=models.now())


def password_changed(user, keep=None):
    """Note one's own new password: the forced change is done, and the login's other sessions
    end (the one named by keep goes on), in one commit."""
    row = _state(user.username, create=True)
    row.must_change_password = False
    row.password_changed_at = models.now()
    db.session.execute(update(models.LoginSession).where(models.LoginSession.user_id == user.id)
                       .values(must_change_password=False))
    db.session.execute(_ending_sessions(user, keep))
    db.session.commit()  # the audit trail gets the change itself, from the flush of the new hash


def end_sessions(user):
    """End every live session of a login, on every worker."""
    db.session.execute(_ending_sessions(user))
    db.session.commit()


def _start_session(sender, user, **extra):
    """A new server-side session for each sign-in; its id travels in the signed cookie."""
    sid = secrets.token_urlsafe(32)
    state = _state(user.username)
    db.session.add(models.LoginSession(
        id=sid, user_id=user.id, ip=audit._client_ip(),
        must_change_password=bool(state and state.must_change_password)))
    db.session.commit()
    session[SESSION_KEY] = sid
    session.permanent = True
    audit.record("login", "ab_user", user.id, user_id=user.id, username=user.username)


def _end_session(sender, user, **extra):
    """Logout ends the server-side session, so an old copy of the cookie is worthless."""
    sid = session.pop(SESSION_KEY, None)
    if sid:
        db.session.execute(update(models.LoginSession).where(models.LoginSession.id == sid)
                           .values(ended_at=models.now()))
        db.session.commit()
    if user is not None and getattr(user, "id", None) is not None:
        audit.record("logout", "ab_user", user.id, user_id=user.id, username=user.username)


def _refuse(message):
    """Send the user to sign in again (JSON clients get 401)."""
    flash(message, "warning")
    if request.path.startswith(("/api/", "/lookup/", "/personal/")):
        return jsonify(message=message), 401
    return redirect(url_for("AuthDBView.login"))


def check_session():
    """Before each request: the session must be live, recent and its user active (an API
    client's request has no session: app.clients checked its token)."""
    if clients.current() is not None or not current_user.is_authenticated:
        return None
    sid = session.get(SESSION_KEY)
    loaded_sid, row = request.environ.get(LOADED_SESSION, (None, None))
    if sid and sid != loaded_sid:  # not read with the user (see the security manager)
        row = db.session.get(models.LoginSession, sid)
    now = models.now()
    idle = datetime.timedelta(minutes=current_app.config["IDLE_TIMEOUT_MINUTES"])
    reason = None
    if row is None or row.ended_at is not None or row.user_id != current_user.id:
        reason = gettext("Your session has ended. Please sign in again.")
    elif now - row.last_seen > idle:
        reason = gettext("You were signed out after %(minutes)s minutes without activity.",
                         minutes=current_app.config["IDLE_TIMEOUT_MINUTES"])
    elif not current_user.is_active:
        reason = gettext("This account has been deactivated.")
    if reason:
        if row is not None and row.ended_at is None:
            row.ended_at = now
            db.session.commit()
        session.pop(SESSION_KEY, None)
        logout_user()
        return _refuse(reason)
    if (now - row.last_seen).total_seconds() > 30:  # keep writes rare: once in 30 s is enough
        row.last_seen = now
        try:
            db.session.commit()
            session.modified = True  # and the cookie's expiry moves on with it
        except SQLAlchemyError:  # busy (SQLite's one writer): recorded on a later request
            log.warning("session activity not recorded", exc_info=True)
            db.session.rollback()
            row = db.session.get(models.LoginSession, sid)
    request.environ["zongzhi.login_session"] = row
    return None


def check_password_change():
    """Before each request: a user who must change the password goes to the form first."""
    row = request.environ.get("zongzhi.login_session")
    if row is None or request.endpoint in OPEN_ENDPOINTS:
        return None
    if row.must_change_password:
        flash(gettext("Please set a new password before you continue."), "warning")
        return redirect(url_for("ResetMyPasswordView.this_form_get"))
    return None


def init_app(app):
    """Register the session checks and the sign-in and sign-out hooks."""
    app.before_request(check_session)
    app.before_request(check_password_change)
    user_logged_in.connect(_start_session, app)
    user_logged_out.connect(_end_session, app)
