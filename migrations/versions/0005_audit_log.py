"""audit log

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 04:22:49.037660
"""
from alembic import op
import sqlalchemy as sa

from app.db import UTCDateTime


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit_log',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('at', UTCDateTime(), nullable=False),
    sa.Column('request_id', sa.String(length=128), nullable=False),
    sa.Column('actor', sa.String(length=256), nullable=True),
    sa.Column('roles', sa.JSON(), nullable=False),
    sa.Column('tenant', sa.String(length=128), nullable=True),
    sa.Column('reason', sa.String(length=512), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('target', sa.String(length=256), nullable=True),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('status', sa.Integer(), nullable=False),
    sa.Column('method', sa.String(length=16), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_log_request_id'), ['request_id'], unique=False)
        batch_op.create_index('ix_audit_log_tenant_at', ['tenant', 'at', 'id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_log_tenant_at')
        batch_op.drop_index(batch_op.f('ix_audit_log_request_id'))

    op.drop_table('audit_log')
