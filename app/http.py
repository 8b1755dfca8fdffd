"""HTTP hardening: security headers on every response, and errors that never show internals."""

import logging
import secrets

from flask import abort, current_app, jsonify, message_flashed, render_template, request
from flask_appbuilder.const import FLAMSG_ERR_SEC_ACCESS_DENIED
from flask_babel import gettext
from flask_login import current_user
from sqlalchemy import insert, text, update
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException, SecurityError

from app import audit, models, transactions
from app.extensions import db

log = logging.getLogger(__name__)


def csp_nonce():
    """This response's script nonce (Flask-AppBuilder's templates ask for csp_nonce())."""
    return request.environ.setdefault("zongzhi.csp_nonce", secrets.token_urlsafe(16))


def security_headers(response):
    """Frame, sniffing, referrer and content policies; no caching of pages with case data."""
    policy = ("default-src 'self'; "
              f"script-src 'self' 'nonce-{csp_nonce()}'; "
              "style-src 'self' 'unsafe-inline'; "  # FAB's templates carry style attributes
              "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
              "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")
    response.headers.setdefault("Content-Security-Policy", policy)
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if not request.path.startswith("/static/"):
        response.headers["Cache-Control"] = "no-store"
        response.headers["Pragma"] = "no-cache"
    return response


def _wants_json():
    """API paths answer errors in JSON, never with an HTML page."""
    return request.path.startswith("/api/")


ERROR_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 409: "conflict", 413: "too_large", 422: "refused",
               429: "too_many_requests", 500: "server_error", 503: "unavailable"}


def _error_page(code):
    """The error page, inside the app's layout (JSON on API paths)."""
    if _wants_json():
        return jsonify(code=ERROR_CODES.get(code, "error"), message=_message(code)), code
    return render_template("zongzhi/error.html", code=code,
                           appbuilder=current_app.appbuilder), code


def _message(code):
    """The plain Chinese words for an error status."""
    words = {
        400: gettext("The request could not be understood."),
        401: gettext("Please sign in."),
        403: gettext("Your role may not open this."),
        404: gettext("There is no such record, or it is outside your area of responsibility."),
        405: gettext("This address does not take that kind of request."),
        413: gettext("The file or form is too large; nothing was saved."),
        500: gettext("Something went wrong; nothing was changed. The fault has been recorded."),
        503: gettext("The database is not available at the moment; nothing was changed."),
    }
    return words.get(code, words[500])


def database_error(error):
    """A database failure: logged in full, shown as a plain Chinese page."""
    log.exception("database error on %s %s", request.method, request.path)
    db.session.rollback()
    if _wants_json():
        return jsonify(code="database_error", message=transactions.explain(error)), 503
    return _error_page(500)


def server_error(error):
    """Any other unexpected failure."""
    if isinstance(error, HTTPException):
        if _wants_json():
            return _error_page(error.code or 500)
        return error
    log.exception("unexpected error on %s %s", request.method, request.path)
    db.session.rollback()
    return _error_page(500)


def _record_denial(status):
    """Note a refused request of a signed-in user in the audit trail."""
    if getattr(current_user, "is_authenticated", False) and \
            not request.path.startswith(("/static", "/favicon.ico")):
        audit.record("access_denied", outcome="denied",
                     detail={"path": request.path, "method": request.method, "status": status})


def _http_error(error):
    """Other client errors: FAB's own pages for screens, JSON for the API (a 405 saying, in
    its Allow header, which methods the address takes)."""
    if _wants_json():
        answer, code = _error_page(error.code)
        if getattr(error, "valid_methods", None):
            answer.headers["Allow"] = ", ".join(error.valid_methods)
        return answer, code
    return error


def not_found(error):
    """Missing or out-of-scope records look the same; asking for one is recorded."""
    _record_denial(404)
    return _error_page(404)


def forbidden(error):
    """A screen the user's roles do not open; recorded."""
    _record_denial(403)
    return _error_page(403)


def api_refusals(response):
    """Flask-AppBuilder's own refusals on API paths ({"message", "severity"}) answered like
    every other API error: {"code", "message"} in Chinese."""
    if response.status_code in (401, 403) and _wants_json() and response.is_json:
        body = response.get_json(silent=True)
        if isinstance(body, dict) and "code" not in body:
            if response.status_code == 403:
                _record_denial(403)
            answer = jsonify(code=ERROR_CODES[response.status_code],
                             message=_message(response.status_code))
            answer.status_code = response.status_code
            for name in ("WWW-Authenticate", "Retry-After"):
                if name in response.headers:
                    answer.headers[name] = response.headers[name]
            return answer
    return response


def _denied_flash(sender, message, category):
    """Flask-AppBuilder refuses a missing right with a flash: record it as a denied access."""
    if str(message) == str(FLAMSG_ERR_SEC_ACCESS_DENIED) and request:
        audit.record("access_denied", outcome="denied",
                     detail={"path": request.path, "method": request.method,
                             "anonymous": not getattr(current_user, "is_authenticated", False)})


def health():
    """For load balancers: 200 when this worker's database takes reads and writes, 503 when it
    does not. The heartbeat row is written in a transaction that is rolled back (a read-only
    database refuses it); with ?deep=1 the write is committed, so a full disk shows too."""
    deep = request.args.get("deep") in ("1", "true", "yes")
    beat = update(models.Heartbeat.__table__).where(models.Heartbeat.id == 1).values(
        at=models.now())
    try:
        db.session.rollback()  # the write first in its transaction: SQLite then waits its turn
        if not db.session.execute(beat).rowcount:  # the row is made on first use
            db.session.execute(insert(models.Heartbeat.__table__).values(id=1, at=models.now()))
        db.session.execute(text("SELECT 1"))
        if deep:
            db.session.commit()
        else:
            db.session.rollback()
    except SQLAlchemyError as error:
        log.warning("health check failed: %s", error)
        db.session.rollback()
        return jsonify(status="unavailable", database="not writable"), 503
    return jsonify(status="ok", database="ok", checked="commit" if deep else "write")


def _keys_in_range(endpoint, values):
    """A record key in a URL beyond what the database stores is a record that does not exist
    (asked of PostgreSQL, 99999999999999999999999 is an error, not "none")."""
    for value in (values or {}).values():
        if isinstance(value, int) and not 0 <= value <= models.LARGEST_KEY:
            abort(404)
        if isinstance(value, str) and value.isdigit() and len(value) > 10:
            abort(404)


def unknown_host(error):
    """A request naming a host the app is not configured for: refused with a plain page (the
    usual page would build its links from that host)."""
    log.warning("refused a request for an unconfigured host (see ZONGZHI_HOSTS): %r",
                request.environ.get("HTTP_HOST", "")[:200])
    page = ("<!DOCTYPE html><html lang=\"zh\"><meta charset=\"utf-8\"><title>%s</title>"
            "<h2>%s</h2><p>%s</p></html>") % (
        gettext("Bad request"), gettext("Bad request"),
        gettext("This address is not one the platform is configured to answer to."))
    return page, 400, {"Content-Type": "text/html; charset=utf-8"}


def init_app(app):
    """Register the headers, the error pages and the health check."""
    app.url_value_preprocessor(_keys_in_range)
    app.add_url_rule("/health", "health", health)
    app.jinja_env.globals["csp_nonce"] = csp_nonce
    app.after_request(security_headers)
    app.after_request(api_refusals)
    app.register_error_handler(SQLAlchemyError, database_error)
    app.register_error_handler(SecurityError, unknown_host)
    app.register_error_handler(404, not_found)
    app.register_error_handler(403, forbidden)
    app.register_error_handler(413, lambda error: _error_page(413))  # a page, in Chinese
    for code in (400, 401, 405, 429):
        app.register_error_handler(code, _http_error)
    app.register_error_handler(500, server_error)
    app.register_error_handler(Exception, server_error)
    message_flashed.connect(_denied_flash, app)

