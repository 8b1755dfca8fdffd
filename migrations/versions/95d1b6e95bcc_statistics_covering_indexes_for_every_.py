"""statistics: covering indexes for every figure

Each figure of the statistics module reads one of these indexes only (no table rows), so a
month of a million-case region is a short index range scan. The single-column registered_at and
concluded_at indexes are replaced by the wider ones, which start with the same column.
Durations are stored (dispute.conclude_seconds, whole seconds from registration to conclusion,
kept by the model on every write) and filled here for the cases already concluded.

Revision ID: 95d1b6e95bcc
Revises: 2095f65da581
Create Date: 2026-11-28 02:58:29.943752

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '95d1b6e95bcc'
down_revision = '2095f65da581'
branch_labels = None
depends_on = None


BACKFILL = {
    "sqlite": "CAST(ROUND((julianday(concluded_at) - julianday(registered_at)) * 86400) AS INTEGER)",
    "postgresql": "CAST(ROUND(EXTRACT(EPOCH FROM (concluded_at - registered_at))) AS INTEGER)",
    "mysql": "TIMESTAMPDIFF(SECOND, registered_at, concluded_at)",
}


def upgrade():
    # A plain ADD COLUMN (no table rebuild on SQLite, so the text-search triggers stay).
    op.add_column('dispute', sa.Column('conclude_seconds', sa.Integer(), nullable=True))
    dialect = op.get_bind().dialect.name
    op.execute(f"UPDATE dispute SET conclude_seconds = {BACKFILL[dialect]} "
               "WHERE concluded_at IS NOT NULL")
    with op.batch_alter_table('dispute', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dispute_concluded_at'))
        batch_op.drop_index(batch_op.f('ix_dispute_registered_at'))
        batch_op.create_index('ix_dispute_stats_accepted', ['accepted_at', 'centre_id'], unique=False)
        batch_op.create_index('ix_dispute_stats_concluded', ['concluded_at', 'centre_id', 'outcome', 'resolved_level', 'conclude_seconds'], unique=False)
        batch_op.create_index('ix_dispute_stats_declined', ['declined_at', 'centre_id'], unique=False)
        batch_op.create_index('ix_dispute_stats_open', ['status', 'accept_due', 'handle_due', 'centre_id'], unique=False)
        batch_op.create_index('ix_dispute_stats_registered', ['registered_at', 'centre_id', 'category_id', 'source', 'level', 'status', 'referred_at'], unique=False)

    with op.batch_alter_table('feedback', schema=None) as batch_op:
        batch_op.create_index('ix_feedback_stats_collected', ['collected_at', 'satisfaction', 'dispute_id'], unique=False)

    with op.batch_alter_table('referral', schema=None) as batch_op:
        batch_op.create_index('ix_referral_stats_open', ['status', 'respond_due', 'answer_due', 'unit_id', 'dispute_id'], unique=False)
        batch_op.create_index('ix_referral_stats_sent', ['sent_at', 'unit_id', 'status', 'reported_at', 'respond_due', 'answered_at', 'answer_due', 'dispute_id'], unique=False)



def downgrade():
    with op.batch_alter_table('referral', schema=None) as batch_op:
        batch_op.drop_index('ix_referral_stats_sent')
        batch_op.drop_index('ix_referral_stats_open')

    with op.batch_alter_table('feedback', schema=None) as batch_op:
        batch_op.drop_index('ix_feedback_stats_collected')

    with op.batch_alter_table('dispute', schema=None) as batch_op:
        batch_op.drop_index('ix_dispute_stats_registered')
        batch_op.drop_index('ix_dispute_stats_open')
        batch_op.drop_index('ix_dispute_stats_declined')
        batch_op.drop_index('ix_dispute_stats_concluded')
        batch_op.drop_index('ix_dispute_stats_accepted')
        batch_op.create_index(batch_op.f('ix_dispute_registered_at'), ['registered_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_dispute_concluded_at'), ['concluded_at'], unique=False)
    op.drop_column('dispute', 'conclude_seconds')

