"""referrals: when a conclusion cancelled them

A referral still open when its case is concluded is cancelled; its timeliness now counts up to
that moment (a deadline already missed stays missed), so the moment is kept. Referrals
cancelled before this revision take their case's conclusion time.

Revision ID: d4e5f6a7b8c9
Revises: c3d9e1f0a2b4
Create Date: 2026-12-02 03:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd4e5f6a7b8c9'
down_revision = 'c3d9e1f0a2b4'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('referral') as batch:
        batch.add_column(sa.Column('cancelled_at', sa.DateTime(), nullable=True))
    op.execute(
        "UPDATE referral SET cancelled_at = (SELECT dispute.concluded_at FROM dispute "
        "WHERE dispute.id = referral.dispute_id) WHERE status = 'cancelled'")


def downgrade():
    with op.batch_alter_table('referral') as batch:
        batch.drop_column('cancelled_at')
