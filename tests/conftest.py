"""Test fixtures: the app built once per session on a migrated database, fresh rows per test."""

import os
import re
import tempfile

import pytest
from sqlalchemy import event, text

from app import create_app, generations
from app.cli import sync_roles
from app.extensions import db

PASSWORD = "Test#Password2025"
ROLES = ("admin", "centre_admin", "staff", "unit_liaison", "leader", "auditor")


def database_url():
    """TEST_DATABASE_URL when set (PostgreSQL, MariaDB), else a throwaway SQLite file."""
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return url
    folder = tempfile.mkdtemp(prefix="zongzhi-test-")
    return "sqlite:///" + os.path.join(folder, "test.db")


def _drop_everything(engine):
    """Empty the test database, whatever an earlier run left in it."""
    from sqlalchemy import inspect

    with engine.begin() as conn:
        quote = conn.dialect.identifier_preparer.quote
        cascade = " CASCADE" if conn.dialect.name == "postgresql" else ""
        if conn.dialect.name == "mysql":
            conn.execute(text("SET FOREIGN_KEY_CHECKS=0"))
        for table in inspect(conn).get_table_names():
            conn.execute(text(f"DROP TABLE IF EXISTS {quote(table)}{cascade}"))
        if conn.dialect.name == "postgresql":
            conn.execute(text("DROP FUNCTION IF EXISTS audit_log_guard() CASCADE"))
        if getattr(conn.dialect, "is_mariadb", False):
            for name in conn.execute(text(
                    "SELECT table_name FROM information_schema.tables "
                    "WHERE table_schema = DATABASE() AND table_type = 'SEQUENCE'")).scalars():
                conn.execute(text(f"DROP SEQUENCE IF EXISTS {quote(name)}"))
        if conn.dialect.name == "mysql":
            conn.execute(text("SET FOREIGN_KEY_CHECKS=1"))


@pytest.fixture(scope="session")
def app():
    """The application, built once, on a database built by the migrations."""
    from flask_migrate import upgrade

    application = create_app(
        "config.TestConfig",
        SQLALCHEMY_DATABASE_URI=database_url(),
        FAB_PASSWORD_HASH_METHOD="pbkdf2:sha256:1000",
    )
    with application.app_context():
        _drop_everything(db.engine)
        upgrade()
        sync_roles()
    # Jobs run at once, in this app, where the code queues them (huey's immediate mode).
    from app import jobs

    jobs.huey.immediate = True
    jobs._APP[:] = [application]
    return application


# Roles and permissions are written once per session; every other table is emptied per test.
# The audit trail is append-only (the database refuses deletes): tests read the rows they add.
KEEP = {"ab_permission", "ab_view_menu", "ab_permission_view", "ab_role",
        "ab_permission_view_role", "audit_log"}


def _empty_tables():
    """Delete every row but the roles and permissions, children before parents."""
    from flask_appbuilder import Model

    db.session.rollback()
    with db.engine.begin() as conn:
        # MariaDB checks a self-referencing key row by row, so the region tree needs checks off.
        mysql = conn.dialect.name == "mysql"
        if mysql:
            conn.execute(text("SET FOREIGN_KEY_CHECKS=0"))
        for table in reversed(Model.metadata.sorted_tables):
            if table.name not in KEEP:
                conn.execute(table.delete())
        if mysql:
            conn.execute(text("SET FOREIGN_KEY_CHECKS=1"))


@pytest.fixture(autouse=True)
def fresh_db(app):
    """Each test starts from empty tables and the declared roles, in an app context."""
    from app.extensions import cache

    with app.app_context():
        _empty_tables()
        cache.clear()  # the tables were emptied behind the generations' backs
        generations.forget_local()
        yield
        db.session.rollback()
        db.session.remove()


@pytest.fixture
def world(fresh_db):
    """The article's world without generated cases: regions, centres, units, staff, experts."""
    from seeds import demo

    demo.load_world(db.session)
    db.session.commit()


@pytest.fixture
def users(app, fresh_db):
    """One user per role, named after the role."""
    sm = app.appbuilder.sm
    for role in ROLES:
        sm.add_user(role, role, "test", f"{role}@example.org", sm.find_role(role), password=PASSWORD)
    db.session.commit()


@pytest.fixture
def client(app):
    """A test client for HTTP requests."""
    return app.test_client()


@pytest.fixture
def login_as(client, users):
    """Log the client in as the user of a role; returns the client."""

    def login(role):
        client.post("/logout/")
        response = client.post("/login/", data={"username": role, "password": PASSWORD})
        assert response.status_code == 302, f"login as {role} failed"
        return client

    return login


@pytest.fixture
def statements(app):
    """Collect the SQL statements the app sends while a test runs."""
    seen = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine, "before_cursor_execute", record)


CJK = re.compile(r"[\u4e00-\u9fff]")
