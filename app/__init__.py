"""Zongzhi: the admin platform for county-level comprehensive governance centres."""

import gc
import os
import secrets

from flask import Flask
from flask_appbuilder import AppBuilder
from sqlalchemy import event
from sqlalchemy.engine import Engine

from flask_wtf.csrf import CSRFProtect

from app.extensions import cache, db, migrate


def create_app(config_object="config.Config", **overrides):
    """Build the application in named steps; nothing is registered at import time."""
    app = Flask(__name__, instance_path=_instance_path())
    configure(app, config_object, overrides)
    with app.app_context():
        register_extensions(app)
        register_views(app)
        register_request_guards(app)
        register_commands(app)
        register_template_helpers(app)
    settle_memory()
    return app


def settle_memory():
    """Move everything built at start-up out of the garbage collector's way (gc.freeze): it
    lives as long as the process, and each full collection would walk it again. Measured: a
    PDF's layout, which allocates enough to trigger full collections, took a third less."""
    gc.collect()
    gc.freeze()


def _instance_path():
    """The instance folder, which holds the SQLite database and the development secret."""
    from config import INSTANCE_DIR

    os.makedirs(INSTANCE_DIR, exist_ok=True)
    return INSTANCE_DIR


def configure(app, config_object, overrides):
    """Load settings, then make sure a secret key exists without ever committing one."""
    from app import clock
    from app.accounts import password_policy
    from app.roles import ROLES

    app.config.from_object(config_object)
    app.config.setdefault("FAB_ROLES", ROLES)
    app.config.setdefault("FAB_PASSWORD_COMPLEXITY_VALIDATOR", password_policy)
    app.config.update(overrides)
    # The zone the server ran in before we set ours: what a migration of older data needs.
    app.config.setdefault("SERVER_UTC_OFFSET_MINUTES", clock.process_offset_minutes())
    clock.set_zone(app.config["ZONGZHI_TIMEZONE"])
    method = app.config.get("FAB_PASSWORD_HASH_METHOD")
    if method and "AUTH_DB_FAKE_PASSWORD_HASH_CHECK" not in overrides:
        # Unknown names are checked against a fake hash; it must cost what a real one costs.
        from werkzeug.security import generate_password_hash

        app.config["AUTH_DB_FAKE_PASSWORD_HASH_CHECK"] = generate_password_hash("x", method=method)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _development_secret(app.instance_path)
    proxies = app.config.get("PROXY_COUNT", 0)
    if proxies:  # the client's address and scheme as the trusted proxies report them
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)


def _development_secret(instance_path):
    """Read the development secret from the instance folder, creating it once."""
    path = os.path.join(instance_path, "secret_key")
    if not os.path.exists(path):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
    with open(path) as handle:
        return handle.read().strip()


@event.listens_for(Engine, "connect")
def _connection_settings(dbapi_connection, connection_record):
    """SQLite: foreign keys, WAL, a busy timeout, and transactions begun by us (see
    transactions.begin); PostgreSQL and MariaDB: the session in the business time zone, so
    that the database's own now() agrees with ours."""
    from app import clock

    module = type(dbapi_connection).__module__
    if module.startswith("sqlite3"):
        dbapi_connection.isolation_level = None  # pysqlite's own BEGIN is replaced by ours
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=15000")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()
    elif module.startswith("psycopg"):
        autocommit = dbapi_connection.autocommit
        dbapi_connection.autocommit = True
        dbapi_connection.execute("SELECT set_config('TimeZone', %s, false)",
                                 (clock.zone().key,))
        dbapi_connection.autocommit = autocommit
    elif module.startswith("pymysql"):
        cursor = dbapi_connection.cursor()
        cursor.execute("SET time_zone = %s", (clock.utc_offset(),))
        cursor.close()


def register_extensions(app):
    """Bind the database, migrations and Flask-AppBuilder to the app."""
    # Models before AppBuilder (their tables and the cache tokens, app.caches, over them).
    from app import caches, fragments, models, session_hooks, transactions  # noqa: F401

    db.init_app(app)
    session_hooks.install()  # every flush and commit hook, in its stated order
    transactions.init_app(app)
    cache.init_app(app)
    caches.init_app(app)
    fragments.init_app(app)
    migrate.init_app(app, db, directory=os.path.join(os.path.dirname(app.root_path), "migrations"))
    appbuilder = AppBuilder(update_perms=app.config["FAB_UPDATE_PERMS"])
    appbuilder.init_app(app, db.session)
    CSRFProtect(app)


def register_views(app):
    """Add the screens and their menu."""
    from app.views import register

    register(app.appbuilder)
    _switch_off_token_sign_in(app)
    from app import clients

    clients.init_app(app, [view for view in app.appbuilder.baseviews
                           if (view.route_base or "").startswith("/api/v1/")])


def _switch_off_token_sign_in(app):
    """Flask-AppBuilder's JWT sign-in (/api/v1/security/login, /refresh) stays registered even
    with its security API off, and its sign-ins bypass our lockout, throttle, audit and server
    side session: answer it 404 like any unknown address."""
    from flask import abort

    def gone(**_kwargs):
        """Not here."""
        abort(404)

    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/security/"):
            app.view_functions[rule.endpoint] = gone


def register_request_guards(app):
    """Sessions, audit, security headers and error pages; malformed list arguments answered."""
    from app import accounts, audit, http, pagination

    accounts.init_app(app)
    audit.init_app(app)
    http.init_app(app)
    pagination.init_app(app)
    from app import transactions

    app.before_request(transactions.view_starts)  # after every other check


def register_commands(app):
    """Add the flask commands: seed, translate."""
    from app.cli import register

    register(app)


def register_template_helpers(app):
    """Make the display helpers available to templates; permission checks and static URLs
    worked out once."""
    from app import display, security

    security.init_app(app)
    app.jinja_env.globals["static_url"] = _static_url()
    app.jinja_env.filters["display"] = display.display_value
    app.jinja_env.filters["cn_date"] = display.format_date
    app.jinja_env.filters["cn_datetime"] = display.format_datetime

    def without_scope():
        """True for a signed-in login whose scope holds nothing (the auditor needs none)."""
        from flask_login import current_user

        from app import scope

        if not getattr(current_user, "is_authenticated", False):
            return False
        if {role.name for role in current_user.roles} <= {"auditor"}:
            return False
        return scope.current().empty

    app.jinja_env.globals["zz_without_scope"] = without_scope

    @app.context_processor
    def locale_context():
        """The page's locale, for scripts that speak to the user."""
        from flask_babel import get_locale

        return {"zz_locale": str(get_locale() or "zh")}


def _static_url():
    """static_url(endpoint, filename) for templates: url_for of a static file, remembered per
    script root (a page links twenty of them, each a walk through the routing map that always
    gives the same answer); the base layout uses it for every stylesheet and script."""
    import functools

    from flask import request, url_for

    @functools.lru_cache(maxsize=512)
    def remembered(script_root, endpoint, filename):
        return url_for(endpoint, filename=filename)

    def static_url(endpoint, filename):
        return remembered(request.script_root, endpoint, filename)

    return static_url
