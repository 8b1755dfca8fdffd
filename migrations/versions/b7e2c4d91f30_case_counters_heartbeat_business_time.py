"""case number counters, the health check's heartbeat row, timestamps in business time

- case_counter: the last case number given per centre and year (app/workflow.py counts it up
  atomically). It starts empty: a centre's first registration of a year starts after the
  highest number already given, so existing numbers carry on.
- heartbeat: one row the health check writes to tell a database that cannot take writes.
- SQLite: the audit trail refuses INSERT OR REPLACE of an existing record (as it refuses
  UPDATE).
- Timestamps were stored in the server's local time; from now on they are the business time
  zone's wall-clock time (ZONGZHI_TIMEZONE, Asia/Shanghai). When the zone the data was written
  in (ZONGZHI_LEGACY_TIMEZONE, or else the server's own zone when this upgrade runs) differs,
  every timestamp is shifted by the difference, and the monthly rollups (derived data, whose
  months may change) are emptied: run `flask stats rebuild` afterwards (the command says so).
  The audit trail is append-only (the database refuses updates) and keeps its old times.

Stands alone: no app code is imported.

Revision ID: b7e2c4d91f30
Revises: 71a3ca9ffa06
Create Date: 2026-12-01 23:00:00

"""
import datetime
import os
from zoneinfo import ZoneInfo

from alembic import op
import sqlalchemy as sa


revision = 'b7e2c4d91f30'
down_revision = '71a3ca9ffa06'
branch_labels = None
depends_on = None

# The timestamp columns at this revision (the audit trail left out: it refuses updates).
TIMESTAMPS = {
    'ab_register_user': ['registration_date'],
    'ab_user': ['last_login', 'created_on', 'changed_on'],
    'account_state': ['locked_until', 'password_changed_at'],
    'login_session': ['created_at', 'last_seen', 'ended_at'],
    'dispute': ['registered_at', 'accepted_at', 'declined_at', 'referred_at', 'concluded_at',
                'closed_at', 'accept_due', 'handle_due'],
    'case_event': ['at'],
    'feedback': ['collected_at'],
    'mediation_session': ['scheduled_at', 'followed_up_at'],
    'referral': ['sent_at', 'respond_due', 'answer_due', 'reported_at', 'answered_at',
                 'returned_at'],
}


def _offset_minutes(zone_name=None, minutes=None):
    """A zone's offset from UTC now, in minutes."""
    if zone_name:
        moment = datetime.datetime.now(ZoneInfo(zone_name))
        return int(moment.utcoffset().total_seconds() // 60)
    return minutes


def _shift_minutes():
    """Minutes to add to stored times: business zone minus the zone they were written in."""
    from flask import current_app

    config = current_app.config if current_app else {}
    business = _offset_minutes(config.get("ZONGZHI_TIMEZONE") or
                               os.environ.get("ZONGZHI_TIMEZONE") or "Asia/Shanghai")
    legacy_name = os.environ.get("ZONGZHI_LEGACY_TIMEZONE")
    legacy = _offset_minutes(legacy_name, config.get("SERVER_UTC_OFFSET_MINUTES", business))
    return business - legacy


def _shifted(dialect, column, minutes):
    """SQL for a timestamp column moved by some minutes."""
    if dialect == 'sqlite':
        return f"datetime({column}, '{minutes:+d} minutes')"
    if dialect == 'postgresql':
        return f"{column} + interval '{minutes} minutes'"
    return f"DATE_ADD({column}, INTERVAL {minutes} MINUTE)"


def upgrade():
    op.create_table('case_counter',
    sa.Column('centre_id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('last', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['centre_id'], ['centre.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('centre_id', 'year')
    )
    op.create_table('heartbeat',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.execute(sa.text("INSERT INTO heartbeat (id, at) VALUES (1, :at)").bindparams(
        at=datetime.datetime(2000, 1, 1)))
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        # INSERT OR REPLACE deletes the old row without firing the delete trigger: refuse it.
        op.execute("""CREATE TRIGGER audit_log_no_replace BEFORE INSERT ON audit_log
           WHEN EXISTS (SELECT 1 FROM audit_log WHERE id = NEW.id)
           BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END""")

    minutes = _shift_minutes()
    if not minutes or not bind.execute(sa.text("SELECT COUNT(*) FROM dispute")).scalar():
        return
    quote = bind.dialect.identifier_preparer.quote
    for table, columns in TIMESTAMPS.items():
        assignments = ", ".join(f"{quote(c)} = {_shifted(bind.dialect.name, quote(c), minutes)}"
                                for c in columns)
        op.execute(f"UPDATE {quote(table)} SET {assignments}")
    op.execute("DELETE FROM stat_month")
    op.execute("DELETE FROM stat_month_part")
    print(f"timestamps moved by {minutes:+d} minutes into business time; "
          "run `flask stats rebuild` to recount the monthly rollups")


def downgrade():
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_replace")
    op.drop_table('heartbeat')
    op.drop_table('case_counter')
