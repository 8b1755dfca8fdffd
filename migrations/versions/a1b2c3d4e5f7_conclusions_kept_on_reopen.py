"""conclusions: one row per conclusion, kept when a case is reopened

The statistics count conclusions from this table, so a case concluded, reopened and concluded
again counts twice, each in its own period, and a past period no longer changes when a case is
reopened. Cases concluded now bring their conclusion here; conclusions already erased by a
reopening before this revision cannot be recovered (their outcome was not kept). The rollups
count the same as before, so they need no rebuild.

Revision ID: a1b2c3d4e5f7
Revises: f6a7b8c9d0e1
Create Date: 2026-12-02 05:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a1b2c3d4e5f7'
down_revision = 'f6a7b8c9d0e1'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'conclusion',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('dispute_id', sa.Integer(), nullable=False),
        sa.Column('centre_id', sa.Integer(), nullable=False),
        sa.Column('concluded_at', sa.DateTime(), nullable=False),
        sa.Column('outcome', sa.String(length=12), nullable=False),
        sa.Column('resolved_level', sa.String(length=10), nullable=True),
        sa.Column('conclude_seconds', sa.Integer(), nullable=False),
        sa.CheckConstraint("outcome IN ('resolved', 'routed_on', 'withdrawn')",
                           name='ck_conclusion_outcome'),
        sa.CheckConstraint("resolved_level IN ('village', 'township', 'county')",
                           name='ck_conclusion_resolved_level'),
        sa.ForeignKeyConstraint(['centre_id'], ['centre.id']),
        sa.ForeignKeyConstraint(['dispute_id'], ['dispute.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_conclusion_dispute_id', 'conclusion', ['dispute_id'])
    op.create_index('ix_conclusion_stats', 'conclusion',
                    ['concluded_at', 'centre_id', 'outcome', 'resolved_level',
                     'conclude_seconds'])
    op.execute(
        "INSERT INTO conclusion (dispute_id, centre_id, concluded_at, outcome, resolved_level, "
        "conclude_seconds) SELECT id, centre_id, concluded_at, outcome, resolved_level, "
        "conclude_seconds FROM dispute WHERE concluded_at IS NOT NULL AND outcome IS NOT NULL "
        "AND conclude_seconds IS NOT NULL")


def downgrade():
    op.drop_index('ix_conclusion_stats', table_name='conclusion')
    op.drop_index('ix_conclusion_dispute_id', table_name='conclusion')
    op.drop_table('conclusion')
