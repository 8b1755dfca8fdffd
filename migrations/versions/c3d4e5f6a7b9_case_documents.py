"""case documents: issued documents with their numbers, counters per centre, year and kind,
and the agreement's performance method and deadline

Revision ID: c3d4e5f6a7b9
Revises: b2c3d4e5f6a8
Create Date: 2026-12-02 07:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c3d4e5f6a7b9'
down_revision = 'b2c3d4e5f6a8'
branch_labels = None
depends_on = None

KINDS = ("accept_notice", "decline_notice", "referral_slip", "agreement", "service_receipt")


def upgrade():
    op.create_table(
        'document_counter',
        sa.Column('centre_id', sa.Integer(), nullable=False),
        sa.Column('year', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('last', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['centre_id'], ['centre.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('centre_id', 'year', 'kind'),
    )
    op.create_table(
        'case_document',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('dispute_id', sa.Integer(), nullable=False),
        sa.Column('referral_id', sa.Integer(), nullable=True),
        sa.Column('session_id', sa.Integer(), nullable=True),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('number', sa.String(length=64), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('issued_at', sa.DateTime(), nullable=False),
        sa.Column('issued_by_id', sa.Integer(), nullable=True),
        sa.Column('storage_key', sa.String(length=80), nullable=False),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.CheckConstraint("kind IN (" + ", ".join(f"'{k}'" for k in KINDS) + ")",
                           name='ck_case_document_kind'),
        sa.ForeignKeyConstraint(['dispute_id'], ['dispute.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['referral_id'], ['referral.id'], ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['session_id'], ['mediation_session.id'], ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['issued_by_id'], ['ab_user.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('dispute_id', 'number', 'version',
                            name='uq_case_document_number_version'),
    )
    op.create_index('ix_case_document_dispute_id', 'case_document', ['dispute_id'])
    with op.batch_alter_table('mediation_session') as batch:
        batch.add_column(sa.Column('performance_method', sa.String(length=200), nullable=True))
        batch.add_column(sa.Column('performance_due', sa.Date(), nullable=True))


def downgrade():
    with op.batch_alter_table('mediation_session') as batch:
        batch.drop_column('performance_due')
        batch.drop_column('performance_method')
    op.drop_index('ix_case_document_dispute_id', table_name='case_document')
    op.drop_table('case_document')
    op.drop_table('document_counter')
