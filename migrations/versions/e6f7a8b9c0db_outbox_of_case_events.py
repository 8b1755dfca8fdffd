"""the outbox of case events, for other systems, with its publishing cursor

Revision ID: e6f7a8b9c0db
Revises: d4e5f6a7b8ca
Create Date: 2026-12-03 11:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e6f7a8b9c0db'
down_revision = 'd4e5f6a7b8ca'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'outbox_event',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('event_id', sa.Integer(), nullable=False),
        sa.Column('seq', sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(['event_id'], ['case_event.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('event_id'),
        sa.UniqueConstraint('seq'),
    )
    cursor = op.create_table(
        'outbox_cursor',
        sa.Column('name', sa.String(length=20), nullable=False),
        sa.Column('last', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('name'),
    )
    op.bulk_insert(cursor, [{'name': 'events', 'last': 0}])


def downgrade():
    op.drop_table('outbox_cursor')
    op.drop_table('outbox_event')
