"""closed loop: languages, extensions, queued referrals, follow-ups, dispatch rules

Revision ID: da4c1fa08027
Revises: 5a187d94a182
Create Date: 2026-11-28 00:46:51.706155

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'da4c1fa08027'
down_revision = '5a187d94a182'
branch_labels = None
depends_on = None


REFERRAL_OLD = "status IN ('sent', 'reported', 'answered', 'returned', 'cancelled')"
REFERRAL_NEW = "status IN ('queued', 'sent', 'reported', 'answered', 'returned', 'cancelled')"
ACTIONS_OLD = ("action IN ('register', 'accept', 'decline', 'refer', 'report_in', 'answer', "
               "'return', 'mediate', 'conclude', 'feedback', 'reopen', 'note')")
ACTIONS_NEW = ("action IN ('register', 'accept', 'decline', 'refer', 'report_in', 'answer', "
               "'return', 'mediate', 'conclude', 'feedback', 'reopen', 'note', 'extend', 'book', "
               "'follow_up')")


def _replace_check(table, name, condition):
    """Swap a CHECK constraint (SQLite rebuilds the table; the others alter it)."""
    with op.batch_alter_table(table, recreate="auto") as batch_op:
        batch_op.drop_constraint(name, type_="check")
        batch_op.create_check_constraint(name, condition)


def upgrade():
    op.create_table('dispatch_rule',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('weight', sa.Integer(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code')
    )
    with op.batch_alter_table('dispute', schema=None) as batch_op:
        batch_op.add_column(sa.Column('language_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('extension_days', sa.Integer(), nullable=False,
                                      server_default="0"))
        batch_op.create_foreign_key('fk_dispute_language_id', 'language', ['language_id'], ['id'])
        batch_op.create_check_constraint('ck_dispute_extension_days', 'extension_days >= 0')

    with op.batch_alter_table('mediation_session', schema=None) as batch_op:
        batch_op.add_column(sa.Column('followed_up_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('follow_up_note', sa.Text(), nullable=True))

    with op.batch_alter_table('referral', schema=None) as batch_op:
        batch_op.add_column(sa.Column('position', sa.Integer(), nullable=False, server_default="1"))

    _replace_check('referral', 'ck_referral_status', REFERRAL_NEW)
    _replace_check('case_event', 'ck_case_event_action', ACTIONS_NEW)


def downgrade():
    _replace_check('case_event', 'ck_case_event_action', ACTIONS_OLD)
    _replace_check('referral', 'ck_referral_status', REFERRAL_OLD)
    with op.batch_alter_table('referral', schema=None) as batch_op:
        batch_op.drop_column('position')

    with op.batch_alter_table('mediation_session', schema=None) as batch_op:
        batch_op.drop_column('follow_up_note')
        batch_op.drop_column('followed_up_at')

    with op.batch_alter_table('dispute', schema=None) as batch_op:
        batch_op.drop_constraint('ck_dispute_extension_days', type_='check')
        batch_op.drop_constraint('fk_dispute_language_id', type_='foreignkey')
        batch_op.drop_column('extension_days')
        batch_op.drop_column('language_id')

    op.drop_table('dispatch_rule')
