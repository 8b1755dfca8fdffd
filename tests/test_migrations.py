"""The migrations build the schema the models describe."""

import ast
import os
import subprocess
import sys

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_appbuilder import Model
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from app.extensions import db


def in_models(name, kind, parents):
    """Whether the models describe a schema object (the text search indexes are made by their
    migrations, outside the models)."""
    return not ((kind == "table" and name.startswith("dispute_fts"))
                or (kind == "index" and name == "ix_dispute_text_trgm"))


def test_models_and_migrations_agree(app):
    """Autogenerate, run against the migrated database, finds nothing to add or change."""
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={
            "compare_type": True, "include_name": in_models})
        diff = compare_metadata(context, Model.metadata)
    assert diff == []


def test_the_schema_is_at_the_latest_revision(app):
    """The database carries the head revision of the migration history."""
    from alembic.script import ScriptDirectory
    from flask_migrate import Migrate  # noqa: F401

    config = app.extensions["migrate"].migrate.get_config()
    head = ScriptDirectory.from_config(config).get_current_head()
    with db.engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_revision() == head


def test_upgrading_a_populated_sqlite_keeps_child_rows(tmp_path):
    """Table rebuilds during SQLite migrations must not cascade-delete children (they did once)."""
    import sqlite3

    from flask_migrate import upgrade

    from app import create_app

    path = tmp_path / "old.db"
    app = create_app("config.TestConfig", SQLALCHEMY_DATABASE_URI=f"sqlite:///{path}")
    with app.app_context():
        upgrade(revision="5a187d94a182")
        with sqlite3.connect(path) as conn:
            conn.executescript("""
                INSERT INTO region (id, code, name, level, path) VALUES (1, '652701', '博乐市', 'county', '652701/');
                INSERT INTO centre (id, name, short_name, region_id, is_pilot, standard_status)
                    VALUES (1, '博乐市社会治安综合治理中心', '博乐市', 1, 1, 'standardised');
                INSERT INTO category (id, code, name) VALUES (1, 'private_lending', '民间借贷');
                INSERT INTO dispute (id, case_no, centre_id, category_id, title, description, source,
                    level, risk, status, registered_at, version)
                    VALUES (1, '652701-2025-00001', 1, 1, 't', 'd', 'window', 'county', 'low',
                            'registered', '2025-03-07 10:00:00', 1);
                INSERT INTO party (dispute_id, role, name) VALUES (1, 'applicant', '刘某英');
                INSERT INTO case_event (dispute_id, at, action, to_status)
                    VALUES (1, '2025-03-07 10:00:00', 'register', 'registered');
            """)
        upgrade()
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM party").fetchone() == (1,)
        assert conn.execute("SELECT count(*) FROM case_event").fetchone() == (1,)


def test_upgrading_splits_records_by_month_and_fills_the_new_statistics(tmp_path):
    """From the revision before today's statistics changes: a service record crossing months is
    split by month (total kept) and a cancelled referral takes its case's conclusion time."""
    import sqlite3

    from flask_migrate import upgrade

    from app import create_app

    path = tmp_path / "old.db"
    app = create_app("config.TestConfig", SQLALCHEMY_DATABASE_URI=f"sqlite:///{path}")
    with app.app_context():
        upgrade(revision="b7e2c4d91f30")
        with sqlite3.connect(path) as conn:
            conn.executescript("""
                INSERT INTO region (id, code, name, level, path) VALUES (1, '652701', '博乐市', 'county', '652701/');
                INSERT INTO centre (id, name, short_name, region_id, is_pilot, standard_status)
                    VALUES (1, '博乐市社会治安综合治理中心', '博乐市', 1, 1, 'standardised');
                INSERT INTO department (id, code, name) VALUES (1, 'court', '人民法院');
                INSERT INTO stationed_unit (id, centre_id, department_id, mode, active)
                    VALUES (1, 1, 1, 'resident', 1);
                INSERT INTO category (id, code, name) VALUES (1, 'private_lending', '民间借贷');
                INSERT INTO dispute (id, case_no, centre_id, category_id, title, description, source,
                    level, risk, status, registered_at, concluded_at, outcome, resolved_level,
                    conclude_seconds, version)
                    VALUES (1, '652701-2025-00001', 1, 1, 't', 'd', 'window', 'county', 'low',
                            'concluded', '2025-03-07 10:00:00', '2025-03-10 12:00:00',
                            'resolved', 'township', 266400, 1);
                INSERT INTO referral (dispute_id, unit_id, status, position, summoned, sent_at,
                    respond_due, answer_due) VALUES (1, 1, 'cancelled', 1, 0,
                    '2025-03-07 11:00:00', '2025-03-08 11:00:00', '2025-03-17 11:00:00');
                INSERT INTO service_record (centre_id, kind, count, period_start, period_end)
                    VALUES (1, 'petition', 396, '2025-01-26', '2025-03-12');
            """)
        upgrade()
    with sqlite3.connect(path) as conn:
        pieces = conn.execute("SELECT period_start, period_end, count FROM service_record "
                              "ORDER BY period_start").fetchall()
        assert pieces == [("2025-01-26", "2025-01-31", 52), ("2025-02-01", "2025-02-28", 241),
                          ("2025-03-01", "2025-03-12", 103)]
        assert conn.execute("SELECT cancelled_at FROM referral").fetchone()[0].startswith(
            "2025-03-10 12:00")
    # The rollups were emptied by the durations revision: `flask stats rebuild` refills them.


MIGRATIONS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                          "migrations")


def test_no_migration_imports_app_code():
    """Migrations stand alone: a future model or statistics change cannot break an upgrade."""
    found = []
    for folder, _dirs, files in os.walk(MIGRATIONS):
        for name in files:
            if not name.endswith(".py"):
                continue
            with open(os.path.join(folder, name), encoding="utf-8") as source:
                tree = ast.parse(source.read())
            for node in ast.walk(tree):
                modules = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                    [node.module or ""] if isinstance(node, ast.ImportFrom) else []
                found += [f"{name}: {m}" for m in modules
                          if m.split(".")[0] in ("app", "seeds", "config")]
    assert found == []


def _scratch_database(url):
    """An empty database on the test engine, beside the test database (None: not possible)."""
    engine_url = make_url(url)
    if engine_url.get_backend_name() == "sqlite":
        return None
    name = "zongzhi_upgrade_check"
    admin = create_engine(engine_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        conn.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    return engine_url.set(database=name).render_as_string(hide_password=False)


def test_flask_db_upgrade_builds_an_empty_database(tmp_path):
    """`flask db upgrade` on an empty database of the test engine, as a deployment runs it, and
    the schema it builds is the models' (the test database itself is also built this way)."""
    url = os.environ.get("TEST_DATABASE_URL")
    target = _scratch_database(url) if url else None
    target = target or f"sqlite:///{tmp_path / 'empty.db'}"
    root = os.path.dirname(MIGRATIONS)
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "run.py", "db", "upgrade"],
                          cwd=root, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "DATABASE_URL": target})
    assert done.returncode == 0, done.stderr[-2000:]
    engine = create_engine(target)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={
                "compare_type": True, "include_name": in_models})
            assert compare_metadata(context, Model.metadata) == []
    finally:
        engine.dispose()
