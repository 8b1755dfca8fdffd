"""service records: one calendar month each

Service records (petitions received, visitors, notarisations…) are now kept per calendar month,
so each month's statistics count what happened in it (a record from 26 January to 12 March
counted whole in January). Records crossing a month's end are split here into one record per
month, their count shared by days (largest remainders, the total kept).

Revision ID: f6a7b8c9d0e1
Revises: e5f6a7b8c9d0
Create Date: 2026-12-02 03:30:00

"""
import datetime

import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = 'f6a7b8c9d0e1'
down_revision = 'e5f6a7b8c9d0'
branch_labels = None
depends_on = None

RECORD = sa.table("service_record", sa.column("id", sa.Integer),
                  sa.column("centre_id", sa.Integer), sa.column("kind", sa.String),
                  sa.column("count", sa.Integer), sa.column("period_start", sa.Date),
                  sa.column("period_end", sa.Date), sa.column("note", sa.String))


def _as_date(value):
    """A date from what the driver returns (SQLite gives text)."""
    return value if isinstance(value, datetime.date) else datetime.date.fromisoformat(str(value))


def _split(start, end, count):
    """[(first, last, share)] per calendar month, shared by days (largest remainders)."""
    pieces, first = [], start
    while first <= end:
        following = (first.replace(day=28) + datetime.timedelta(days=4)).replace(day=1)
        last = min(end, following - datetime.timedelta(days=1))
        pieces.append((first, last, (last - first).days + 1))
        first = following
    days = sum(p[2] for p in pieces)
    exact = [count * p[2] / days for p in pieces]
    shares = [int(v) for v in exact]
    for k in sorted(range(len(pieces)), key=lambda k: (shares[k] - exact[k], k))[
            :count - sum(shares)]:
        shares[k] += 1
    return [(a, b, s) for (a, b, _d), s in zip(pieces, shares)]


def upgrade():
    connection = op.get_bind()
    rows = connection.execute(sa.select(RECORD)).all()
    for row in rows:
        start, end = _as_date(row.period_start), _as_date(row.period_end)
        if end < start or (start.year, start.month) == (end.year, end.month):
            continue
        connection.execute(RECORD.delete().where(RECORD.c.id == row.id))
        for first, last, share in _split(start, end, int(row.count)):
            connection.execute(RECORD.insert().values(
                centre_id=row.centre_id, kind=row.kind, count=share, period_start=first,
                period_end=last, note=row.note))


def downgrade():
    pass  # the monthly pieces are valid records under the old rule too
