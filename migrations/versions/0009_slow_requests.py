"""slow requests

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 13:00:00.000000
"""
from alembic import op
import sqlalchemy as sa

from app.db import UTCDateTime


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('slow_requests',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('at', UTCDateTime(), nullable=False),
    sa.Column('tenant', sa.String(length=128), nullable=True),
    sa.Column('actor', sa.String(length=256), nullable=True),
    sa.Column('method', sa.String(length=16), nullable=False),
    sa.Column('route', sa.String(length=256), nullable=False),
    sa.Column('path', sa.String(length=512), nullable=False),
    sa.Column('status', sa.Integer(), nullable=False),
    sa.Column('duration_ms', sa.Float(), nullable=False),
    sa.Column('request_id', sa.String(length=128), nullable=False),
    sa.Column('trace_id', sa.String(length=32), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('slow_requests', schema=None) as batch_op:
        batch_op.create_index('ix_slow_requests_tenant_at', ['tenant', 'at', 'id'], unique=False)
        batch_op.create_index('ix_slow_requests_at', ['at'], unique=False)


def downgrade() -> None:
    op.drop_table('slow_requests')
