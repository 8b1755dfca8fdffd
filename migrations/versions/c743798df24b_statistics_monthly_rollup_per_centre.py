"""statistics: monthly rollup per centre

stat_month holds, per centre and month, the counts behind the headline figures; app/rollup.py
keeps it exact on every write. The upgrade fills it from the case rows already there, with the
statistics' own counting (filled by `flask stats rebuild`: a migration imports no app code).

Revision ID: c743798df24b
Revises: 95d1b6e95bcc
Create Date: 2026-11-28 04:17:23.016435

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c743798df24b'
down_revision = '95d1b6e95bcc'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('stat_month',
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('centre_id', sa.Integer(), nullable=False),
    sa.Column('registered', sa.Integer(), nullable=False),
    sa.Column('accepted', sa.Integer(), nullable=False),
    sa.Column('declined', sa.Integer(), nullable=False),
    sa.Column('concluded', sa.Integer(), nullable=False),
    sa.Column('resolved', sa.Integer(), nullable=False),
    sa.Column('routed_on', sa.Integer(), nullable=False),
    sa.Column('withdrawn', sa.Integer(), nullable=False),
    sa.Column('grassroots', sa.Integer(), nullable=False),
    sa.Column('conclude_seconds', sa.BigInteger(), nullable=False),
    sa.Column('feedback', sa.Integer(), nullable=False),
    sa.Column('satisfied', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['centre_id'], ['centre.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('month', 'centre_id')
    )
    # Derived data: filled by `flask stats rebuild` (a migration imports no app code).


def downgrade():
    op.drop_table('stat_month')
