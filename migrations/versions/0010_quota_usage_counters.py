"""quota usage counters: active jobs on the quota row, submissions per minute

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 13:00:00
"""
from alembic import op
import sqlalchemy as sa

from app.db import UTCDateTime


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('job_quotas', schema=None) as batch_op:
        batch_op.add_column(sa.Column('active', sa.Integer(), server_default='0', nullable=False))
    op.create_table('job_submissions',
    sa.Column('tenant', sa.String(length=128), nullable=False),
    sa.Column('job_type', sa.String(length=64), nullable=False),
    sa.Column('minute', UTCDateTime(), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('tenant', 'job_type', 'minute')
    )
    # Counters start from the truth; the quota reconcile keeps them there.
    op.execute("UPDATE job_quotas SET active = (SELECT COUNT(*) FROM jobs"
               " WHERE jobs.tenant = job_quotas.tenant AND jobs.job_type = job_quotas.job_type"
               " AND jobs.status IN ('queued', 'running', 'retrying'))")


def downgrade() -> None:
    op.drop_table('job_submissions')
    with op.batch_alter_table('job_quotas', schema=None) as batch_op:
        batch_op.drop_column('active')
