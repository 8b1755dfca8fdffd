"""HTTP hardening: security headers on every response, and errors that never show internals."""

import logging
import secrets

from flask import current_app, message_flashed, render_template, request
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException

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


def _error_page(code):
    """The error page, inside the app's layout."""
    return render_template("zongzhi/error.html", code=code,
                           appbuilder=current_app.appbuilder), code


def database_error(error):
    """A database failure: logged in full, shown as a plain Chinese page."""
    log.exception("database error on %s %s", request.method, request.path)
    db.session.rollback()
    return _error_page(500)


def server_error(error):
    """Any other unexpected failure."""
    if isinstance(error, HTTPException):
        return error
    log.exception("unexpected error on %s %s", request.method, request.path)
    db.session.rollback()
    return _error_page(500)


def _record_denial(status):
    """Note a refused request of a signed-in user in the audit trail."""
    from flask_login import current_user

    from app import audit

    if getattr(current_user, "is_authenticated", False) and \
            not request.path.startswith(("/static", "/favicon.ico")):
        audit.record("access_denied", outcome="denied",
                     detail={"path": request.path, "method": request.method, "status": status})


def not_found(error):
    """Missing or out-of-scope records look the same; asking for one is recorded."""
    _record_denial(404)
    return _error_page(404)


def forbidden(error):
    """A screen the user's roles do not open; recorded."""
    _record_denial(403)
    return _error_page(403)


def _denied_flash(sender, message, category):
    """Flask-AppBuilder refuses a missing right with a flash: record it as a denied access."""
    from flask_appbuilder.const import FLAMSG_ERR_SEC_ACCESS_DENIED
    from flask_login import current_user

    from app import audit

    if str(message) == str(FLAMSG_ERR_SEC_ACCESS_DENIED) and request:
        audit.record("access_denied", outcome="denied",
                     detail={"path": request.path, "method": request.method,
                             "anonymous": not getattr(current_user, "is_authenticated", False)})


def health():
    """For load balancers: 200 when this worker can reach the database, 503 when it cannot."""
    from flask import jsonify
    from sqlalchemy import text

    try:
        db.session.execute(text("SELECT 1"))
        db.session.rollback()
    except SQLAlchemyError:
        db.session.rollback()
        return jsonify(status="unavailable", database="unreachable"), 503
    return jsonify(status="ok", database="ok")


def init_app(app):
    """Register the headers, the error pages and the health check."""
    app.add_url_rule("/health", "health", health)
    app.jinja_env.globals["csp_nonce"] = csp_nonce
    app.after_request(security_headers)
    app.register_error_handler(SQLAlchemyError, database_error)
    app.register_error_handler(404, not_found)
    app.register_error_handler(403, forbidden)
    app.register_error_handler(500, server_error)
    app.register_error_handler(Exception, server_error)
    message_flashed.connect(_denied_flash, app)
