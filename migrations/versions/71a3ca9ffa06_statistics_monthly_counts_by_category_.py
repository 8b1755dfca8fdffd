"""statistics: monthly counts by category, source, level, funnel step and days taken

stat_month_part holds, per dimension, month, centre and code, the cases behind the dashboard's
breakdowns, its funnel and the duration histogram the median and p90 are found from;
app/rollup.py keeps it exact with stat_month. Filled from the case rows by
`flask stats rebuild` (a migration imports no app code).

Revision ID: 71a3ca9ffa06
Revises: c743798df24b
Create Date: 2026-11-28 06:15:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '71a3ca9ffa06'
down_revision = 'c743798df24b'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('stat_month_part',
    sa.Column('dimension', sa.String(length=16), nullable=False),
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('centre_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('cases', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['centre_id'], ['centre.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('dimension', 'month', 'centre_id', 'code')
    )
    # Derived data: filled by `flask stats rebuild` (a migration imports no app code).


def downgrade():
    op.drop_table('stat_month_part')
