"""the message centre (notices, their text-message and e-mail deliveries, preferences), the
runs of queued jobs, and the indexes the deadline warnings read cases in hand and open referrals
by

Revision ID: b9c0d1e2f3a4
Revises: a8b9c0d1e2fe
Create Date: 2026-12-03 15:05:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b9c0d1e2f3a4'
down_revision = 'a8b9c0d1e2fe'
branch_labels = None
depends_on = None

KINDS = ("report_in_due", "answer_due", "accept_due", "handle_due", "returned", "poor_rating",
         "export_ready", "export_failed")
CHANNELS = ("sms", "email")
DELIVERY = ("pending", "sending", "sent", "failed")
JOBS = ("running", "done", "retrying", "failed", "interrupted")


def _in(column, codes):
    return f"{column} IN (" + ", ".join(f"'{c}'" for c in codes) + ")"


def upgrade():
    op.create_table(
        'notice',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('key', sa.String(length=80), nullable=False),
        sa.Column('dispute_id', sa.Integer(), nullable=True),
        sa.Column('referral_id', sa.Integer(), nullable=True),
        sa.Column('file_key', sa.String(length=80), nullable=True),
        sa.Column('file_name', sa.String(length=120), nullable=True),
        sa.Column('due', sa.DateTime(), nullable=True),
        sa.Column('lead_minutes', sa.Integer(), nullable=True),
        sa.Column('detail', sa.String(length=200), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('read_at', sa.DateTime(), nullable=True),
        sa.CheckConstraint(_in("kind", KINDS), name='ck_notice_kind'),
        sa.ForeignKeyConstraint(['user_id'], ['ab_user.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['dispute_id'], ['dispute.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['referral_id'], ['referral.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('user_id', 'key', name='uq_notice_user_key'),
    )
    op.create_index('ix_notice_dispute_id', 'notice', ['dispute_id'])
    op.create_index('ix_notice_referral_id', 'notice', ['referral_id'])
    op.create_index('ix_notice_user_read', 'notice', ['user_id', 'read_at'])
    op.create_index('ix_notice_user_created', 'notice', ['user_id', 'created_at'])
    op.create_table(
        'notice_delivery',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('notice_id', sa.Integer(), nullable=False),
        sa.Column('channel', sa.String(length=8), nullable=False),
        sa.Column('address', sa.String(length=320), nullable=False),
        sa.Column('status', sa.String(length=8), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('send_after', sa.DateTime(), nullable=False),
        sa.Column('sent_at', sa.DateTime(), nullable=True),
        sa.Column('error', sa.String(length=300), nullable=True),
        sa.CheckConstraint(_in("channel", CHANNELS), name='ck_notice_delivery_channel'),
        sa.CheckConstraint(_in("status", DELIVERY), name='ck_notice_delivery_status'),
        sa.ForeignKeyConstraint(['notice_id'], ['notice.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('notice_id', 'channel', name='uq_notice_delivery_channel'),
    )
    op.create_index('ix_notice_delivery_due', 'notice_delivery', ['status', 'send_after'])
    op.create_table(
        'notice_preference',
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('by_sms', sa.Boolean(), nullable=False),
        sa.Column('by_email', sa.Boolean(), nullable=False),
        sa.Column('phone', sa.String(length=20), nullable=True),
        sa.Column('email', sa.String(length=120), nullable=True),
        sa.Column('quiet_from', sa.Time(), nullable=True),
        sa.Column('quiet_to', sa.Time(), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['ab_user.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('user_id'),
    )
    op.create_table(
        'job_run',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('task_id', sa.String(length=64), nullable=False),
        sa.Column('name', sa.String(length=80), nullable=False),
        sa.Column('status', sa.String(length=12), nullable=False),
        sa.Column('retries_left', sa.Integer(), nullable=True),
        sa.Column('started_at', sa.DateTime(), nullable=False),
        sa.Column('finished_at', sa.DateTime(), nullable=True),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('result', sa.String(length=300), nullable=True),
        sa.Column('worker', sa.String(length=80), nullable=True),
        sa.CheckConstraint(_in("status", JOBS), name='ck_job_run_status'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('task_id'),
    )
    op.create_index('ix_job_run_started', 'job_run', ['started_at'])
    op.create_index('ix_job_run_status', 'job_run', ['status', 'started_at'])
    op.create_index('ix_dispute_status_handle_due', 'dispute', ['status', 'handle_due'])
    op.create_index('ix_referral_status_answer_due', 'referral', ['status', 'answer_due'])


def downgrade():
    op.drop_index('ix_referral_status_answer_due', table_name='referral')
    op.drop_index('ix_dispute_status_handle_due', table_name='dispute')
    op.drop_index('ix_job_run_status', table_name='job_run')
    op.drop_index('ix_job_run_started', table_name='job_run')
    op.drop_table('job_run')
    op.drop_table('notice_preference')
    op.drop_index('ix_notice_delivery_due', table_name='notice_delivery')
    op.drop_table('notice_delivery')
    op.drop_index('ix_notice_user_created', table_name='notice')
    op.drop_index('ix_notice_user_read', table_name='notice')
    op.drop_index('ix_notice_referral_id', table_name='notice')
    op.drop_index('ix_notice_dispute_id', table_name='notice')
    op.drop_table('notice')
