"""statistics: durations over the success rate's cases only

Average, median and 90th-percentile days to conclude now count the cases resolved or routed
on, as the success rate does; withdrawn cases are counted on their own. The rollups' seconds and
day histogram change meaning, so they are emptied here (derived data): `flask stats rebuild`
fills them again from the case rows (scripts/run.sh does so when `flask stats check` differs).

Revision ID: e5f6a7b8c9d0
Revises: d4e5f6a7b8c9
Create Date: 2026-12-02 03:20:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'e5f6a7b8c9d0'
down_revision = 'd4e5f6a7b8c9'
branch_labels = None
depends_on = None


def upgrade():
    op.execute("DELETE FROM stat_month_part")
    op.execute("DELETE FROM stat_month")


def downgrade():
    op.execute("DELETE FROM stat_month_part")
    op.execute("DELETE FROM stat_month")
