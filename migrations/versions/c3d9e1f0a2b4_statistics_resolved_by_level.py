"""statistics: cases resolved by the level they were resolved at

stat_month_part gains the dimension "resolved": per month of conclusion and centre, the cases
resolved at each level (village, township, county…), which the dashboard's 按化解层级 chart
reads (it plotted the level cases were registered at). Filled here from the case rows, in each
engine's own SQL (a migration imports no app code); `flask stats check` then agrees.

Revision ID: c3d9e1f0a2b4
Revises: b7e2c4d91f30
Create Date: 2026-12-02 03:00:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'c3d9e1f0a2b4'
down_revision = 'b7e2c4d91f30'
branch_labels = None
depends_on = None

MONTH = {
    "sqlite": "date(concluded_at, 'start of month')",
    "postgresql": "CAST(date_trunc('month', concluded_at) AS DATE)",
    # (no % signs: the driver's parameter style would read them)
    "mysql": "DATE_SUB(DATE(concluded_at), INTERVAL DAYOFMONTH(concluded_at) - 1 DAY)",
    "mariadb": "DATE_SUB(DATE(concluded_at), INTERVAL DAYOFMONTH(concluded_at) - 1 DAY)",
}


def upgrade():
    month = MONTH[op.get_bind().dialect.name]
    op.execute("DELETE FROM stat_month_part WHERE dimension = 'resolved'")
    op.execute(
        "INSERT INTO stat_month_part (dimension, month, centre_id, code, cases) "
        f"SELECT 'resolved', {month}, centre_id, COALESCE(resolved_level, ''), COUNT(*) "
        "FROM dispute WHERE outcome = 'resolved' AND concluded_at IS NOT NULL "
        f"GROUP BY {month}, centre_id, COALESCE(resolved_level, '')")


def downgrade():
    op.execute("DELETE FROM stat_month_part WHERE dimension = 'resolved'")
