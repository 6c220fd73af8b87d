"""job retry_at: when a retrying job's next attempt is due

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 13:10:00.000000
"""
from alembic import op
import sqlalchemy as sa

from app.db import UTCDateTime


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('retry_at', UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_column('retry_at')
