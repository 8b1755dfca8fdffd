"""attachments: files a case received, kept in the file storage, soft-deleted; document
templates edited by administrators

Revision ID: d4e5f6a7b8ca
Revises: c3d4e5f6a7b9
Create Date: 2026-12-02 07:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd4e5f6a7b8ca'
down_revision = 'c3d4e5f6a7b9'
branch_labels = None
depends_on = None

KINDS = ("application", "id_copy", "evidence", "signed_agreement", "photo", "other")


def upgrade():
    op.create_table(
        'attachment',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('dispute_id', sa.Integer(), nullable=False),
        sa.Column('party_id', sa.Integer(), nullable=True),
        sa.Column('referral_id', sa.Integer(), nullable=True),
        sa.Column('session_id', sa.Integer(), nullable=True),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('file_name', sa.String(length=120), nullable=False),
        sa.Column('content_type', sa.String(length=100), nullable=False),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('storage_key', sa.String(length=80), nullable=False),
        sa.Column('thumbnail_key', sa.String(length=80), nullable=True),
        sa.Column('uploaded_at', sa.DateTime(), nullable=False),
        sa.Column('uploaded_by_id', sa.Integer(), nullable=True),
        sa.Column('deleted_at', sa.DateTime(), nullable=True),
        sa.Column('deleted_by_id', sa.Integer(), nullable=True),
        sa.CheckConstraint("kind IN (" + ", ".join(f"'{k}'" for k in KINDS) + ")",
                           name='ck_attachment_kind'),
        sa.ForeignKeyConstraint(['dispute_id'], ['dispute.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['party_id'], ['party.id'], ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['referral_id'], ['referral.id'], ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['session_id'], ['mediation_session.id'], ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['uploaded_by_id'], ['ab_user.id'], ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['deleted_by_id'], ['ab_user.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_attachment_dispute_id', 'attachment', ['dispute_id'])
    op.create_table(
        'document_template',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('centre_id', sa.Integer(), nullable=True),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.Column('updated_by_id', sa.Integer(), nullable=True),
        sa.CheckConstraint("kind IN ('accept_notice', 'decline_notice', 'referral_slip', "
                           "'agreement', 'service_receipt')", name='ck_document_template_kind'),
        sa.ForeignKeyConstraint(['centre_id'], ['centre.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['updated_by_id'], ['ab_user.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('kind', 'centre_id', name='uq_document_template_kind_centre'),
    )


def downgrade():
    op.drop_table('document_template')
    op.drop_index('ix_attachment_dispute_id', table_name='attachment')
    op.drop_table('attachment')
