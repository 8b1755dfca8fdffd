"""API clients (a login each, the secret kept hashed) and the calls they made

Revision ID: f7a8b9c0d1ec
Revises: e6f7a8b9c0db
Create Date: 2026-12-03 12:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'f7a8b9c0d1ec'
down_revision = 'e6f7a8b9c0db'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'api_client',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=80), nullable=False),
        sa.Column('key', sa.String(length=24), nullable=False),
        sa.Column('secret_hash', sa.String(length=64), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('rate_per_minute', sa.Integer(), nullable=False),
        sa.Column('expires_at', sa.DateTime(), nullable=True),
        sa.Column('revoked_at', sa.DateTime(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.CheckConstraint('rate_per_minute > 0', name='ck_api_client_rate'),
        sa.ForeignKeyConstraint(['user_id'], ['ab_user.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('key'),
        sa.UniqueConstraint('name'),
        sa.UniqueConstraint('user_id'),
    )
    op.create_table(
        'api_call',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.Column('client_id', sa.Integer(), nullable=False),
        sa.Column('method', sa.String(length=8), nullable=False),
        sa.Column('path', sa.String(length=200), nullable=False),
        sa.Column('status', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['client_id'], ['api_client.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_api_call_at', 'api_call', ['at'])
    op.create_index('ix_api_call_client_id', 'api_call', ['client_id'])


def downgrade():
    op.drop_index('ix_api_call_client_id', table_name='api_call')
    op.drop_index('ix_api_call_at', table_name='api_call')
    op.drop_table('api_call')
    op.drop_table('api_client')
