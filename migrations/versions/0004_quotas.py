"""job quotas, tenant storage quotas, admission indexes

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 04:22:47.672361
"""
from alembic import op
import sqlalchemy as sa

from app.db import UTCDateTime


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('job_quotas',
    sa.Column('tenant', sa.String(length=128), nullable=False),
    sa.Column('job_type', sa.String(length=64), nullable=False),
    sa.Column('max_active', sa.Integer(), nullable=True),
    sa.Column('max_per_hour', sa.Integer(), nullable=True),
    sa.Column('alert_level', sa.Integer(), nullable=False),
    sa.Column('updated_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('tenant', 'job_type')
    )
    op.create_table('tenant_quotas',
    sa.Column('tenant', sa.String(length=128), nullable=False),
    sa.Column('max_artifact_bytes', sa.BigInteger(), nullable=True),
    sa.Column('updated_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('tenant')
    )
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.create_index('ix_jobs_quota_active', ['tenant', 'job_type', 'status'], unique=False)
        batch_op.create_index('ix_jobs_quota_created', ['tenant', 'job_type', 'created_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_index('ix_jobs_quota_created')
        batch_op.drop_index('ix_jobs_quota_active')

    op.drop_table('tenant_quotas')
    op.drop_table('job_quotas')
