"""text search: SQLite FTS5 trigram index, PostgreSQL pg_trgm index

Revision ID: 2095f65da581
Revises: da4c1fa08027
Create Date: 2026-11-28 01:29:39.605925

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '2095f65da581'
down_revision = 'da4c1fa08027'
branch_labels = None
depends_on = None


SQLITE = [
    """CREATE VIRTUAL TABLE dispute_fts USING fts5(
           title, description, content='dispute', content_rowid='id', tokenize='trigram')""",
    """CREATE TRIGGER dispute_fts_insert AFTER INSERT ON dispute BEGIN
           INSERT INTO dispute_fts(rowid, title, description)
           VALUES (new.id, new.title, new.description);
       END""",
    """CREATE TRIGGER dispute_fts_delete AFTER DELETE ON dispute BEGIN
           INSERT INTO dispute_fts(dispute_fts, rowid, title, description)
           VALUES ('delete', old.id, old.title, old.description);
       END""",
    """CREATE TRIGGER dispute_fts_update AFTER UPDATE OF title, description ON dispute BEGIN
           INSERT INTO dispute_fts(dispute_fts, rowid, title, description)
           VALUES ('delete', old.id, old.title, old.description);
           INSERT INTO dispute_fts(rowid, title, description)
           VALUES (new.id, new.title, new.description);
       END""",
    "INSERT INTO dispute_fts(dispute_fts) VALUES ('rebuild')",
]
POSTGRESQL = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX ix_dispute_text_trgm ON dispute "
    "USING gin ((title || ' ' || description) gin_trgm_ops)",
]


def upgrade():
    name = op.get_bind().dialect.name
    for statement in {"sqlite": SQLITE, "postgresql": POSTGRESQL}.get(name, []):
        op.execute(statement)


def downgrade():
    name = op.get_bind().dialect.name
    if name == "sqlite":
        for trigger in ("dispute_fts_insert", "dispute_fts_delete", "dispute_fts_update"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS dispute_fts")
    elif name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_dispute_text_trgm")
