"""API clients: other systems calling the API with a token (`Authorization: Bearer
zz.<key>.<secret>`) instead of a browser session. A client acts as its own login, so its
roles are its rights and its scope its area, with the screens' checks; its secret is stored
as a SHA-256 hash (it is random and long, so a slow password hash would only cost time); an
expired or revoked client is refused on its next request; each client has its own rate limit,
counted in Redis when REDIS_URL is set; every call is recorded with the client's name.

Token requests carry no cookie a page could make a browser send, so they are not asked for a
CSRF token; the API's browser-session requests still are."""

import datetime
import hashlib
import hmac
import logging
import secrets
import time

from flask import current_app, g, jsonify, request
from flask_babel import gettext
from flask_login import current_user
from limits import RateLimitItemPerMinute, storage, strategies
from sqlalchemy import insert, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import joinedload

from app import models
from app.extensions import db

log = logging.getLogger(__name__)

CLIENT = "zongzhi.api_client"  # the request's client, in the WSGI environment
CALLER = "zongzhi.api_caller"  # the client whose token it was, accepted or refused
PREFIX = "zz"
LIMITS = "zongzhi.client_limits"  # the app's rate-limit counter, in app.extensions


def _hash(secret):
    """What is stored of a secret."""
    return hashlib.sha256(secret.encode()).hexdigest()


def issue(client):
    """A new secret for a client, replacing any earlier one: the token, shown once."""
    secret = secrets.token_urlsafe(32)
    client.secret_hash = _hash(secret)
    return f"{PREFIX}.{client.key}.{secret}"


def new_key():
    """The public half of a token."""
    return secrets.token_hex(8)


def _token():
    """The bearer token sent, or None when the request has none."""
    header = request.headers.get("Authorization", "")
    scheme, _sep, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


def _refuse(code, message, status=401):
    """A JSON refusal."""
    return jsonify(code=code, message=message), status


def authenticate():
    """Before every other check: a request with a bearer token is its client's, or refused."""
    # Each request signs in afresh (its token or its session), never as the login Flask-Login
    # remembered in an app context that outlives one request (a test's, a worker's).
    g.pop("_login_user", None)
    token = _token()
    if token is None:
        return None
    prefix, _sep, rest = token.partition(".")
    key, _sep, secret = rest.partition(".")
    if prefix != PREFIX or not key or not secret:
        return _refuse("invalid_token", gettext("The API token is not valid."))
    client = db.session.scalar(select(models.ApiClient).where(models.ApiClient.key == key)
                               .options(joinedload(models.ApiClient.user)))
    if client is None or not hmac.compare_digest(client.secret_hash, _hash(secret)):
        return _refuse("invalid_token", gettext("The API token is not valid."))
    request.environ[CALLER] = client
    now = models.now()
    if client.revoked_at is not None:
        return _refuse("revoked", gettext("This API client has been revoked."))
    if client.expires_at is not None and client.expires_at <= now:
        return _refuse("expired", gettext("This API client's token has expired."))
    if not client.user.is_active:
        return _refuse("revoked", gettext("This API client has been revoked."))
    limit = RateLimitItemPerMinute(client.rate_per_minute)
    limiter = current_app.extensions[LIMITS]
    if not limiter.hit(limit, "api-client", str(client.id)):
        reset = limiter.get_window_stats(limit, "api-client", str(client.id))[0]
        answer, status = _refuse("rate_limited", gettext(
            "Too many requests from this API client; try again in a minute."), 429)
        answer.headers["Retry-After"] = str(max(1, int(reset - time.time())))
        return answer, status
    request.environ[CLIENT] = client
    return None


def current():
    """The API client of this request, or None."""
    return request.environ.get(CLIENT)


def user_of_request():
    """The login of the request's client (Flask-Login's request loader), or None."""
    client = current()
    return client.user if client is not None else None


def protect_api_sessions():
    """The API's browser-session writes still need their CSRF token (token requests do not)."""
    if current() is not None or not request.path.startswith("/api/"):
        return
    if not getattr(current_user, "is_authenticated", False):
        return  # no one signed in: the view answers 401, no CSRF token to ask for
    config = current_app.config  # Flask-WTF's settings (CSRFProtect set their defaults)
    if not config["WTF_CSRF_ENABLED"] or request.method not in config["WTF_CSRF_METHODS"]:
        return
    current_app.extensions["csrf"].protect()


def record_call(response):
    """After a client's request: the call, with its answer, in the calls' log (never failing
    the response: the request's own work is already committed)."""
    client = request.environ.get(CALLER)
    if client is None:
        return response
    try:
        db.session.rollback()  # whatever the request left open is not ours to commit
        db.session.execute(insert(models.ApiCall).values(
            at=models.now(), client_id=client.id, method=request.method,
            path=request.full_path.rstrip("?")[:200], status=response.status_code))
        db.session.commit()
    except SQLAlchemyError:
        db.session.rollback()
        log.warning("API call of %s not recorded", client.name, exc_info=True)
    return response


def init_app(app, api_views):
    """Token sign-in first of all checks, the API's CSRF rule, the calls' log."""
    app.extensions[LIMITS] = strategies.FixedWindowRateLimiter(
        storage.storage_from_string(app.config["RATELIMIT_STORAGE_URI"]))
    app.before_request_funcs.setdefault(None, []).insert(0, authenticate)
    csrf = app.extensions["csrf"]
    for view in api_views:
        csrf.exempt(view.blueprint)  # checked by protect_api_sessions instead
    app.before_request(protect_api_sessions)
    app.after_request(record_call)
    app.appbuilder.sm.lm.request_loader(lambda _request: user_of_request())


def expiry(days):
    """The moment a client made now expires, for a number of days (None: never)."""
    return models.now() + datetime.timedelta(days=days) if days else None


class Refused(ValueError):
    """A client or subscription that cannot be made, with the reason in words."""


def create(session, sm, name, role_names, scope_value, days=365, rate=120):
    """A client with its own login (its roles, its scope) and its token, shown once:
    (client, token); Refused says why not. The login's password is random and never shown."""
    from app import accounts_scope

    name = (name or "").strip()
    if not name or len(name) > 60 or not all(c.isalnum() or c in "-_." for c in name):
        raise Refused(gettext("Name the client with letters, digits, '-', '_' or '.' "
                              "(at most 60)."))
    username = f"api-{name}"
    if sm.find_user(username=username) is not None or session.scalar(
            select(models.ApiClient).filter_by(name=name)) is not None:
        raise Refused(gettext("A client called %(name)s exists already.", name=name))
    roles = [sm.find_role(r) for r in role_names]
    if not roles or None in roles:
        raise Refused(gettext("Choose the client's role."))
    if rate is None or rate < 1:
        raise Refused(gettext("Allow at least one request a minute."))
    user = sm.add_user(username, name, "API", f"{username}@api.invalid", roles,
                       password=secrets.token_urlsafe(32))
    if not user:
        raise Refused(gettext("The client's login could not be created."))
    try:
        accounts_scope.assign(session, user, scope_value, set(role_names))
    except ValueError as problem:
        session.delete(user)
        session.commit()
        raise Refused(str(problem)) from None
    client = models.ApiClient(name=name, key=new_key(), user_id=user.id, rate_per_minute=rate,
                              expires_at=expiry(days))
    token = issue(client)
    session.add(client)
    session.commit()
    return client, token


def status(client, now=None):
    """"revoked", "expired" or "active"."""
    now = now or models.now()
    if client.revoked_at is not None:
        return "revoked"
    if client.expires_at is not None and client.expires_at <= now:
        return "expired"
    return "active"
