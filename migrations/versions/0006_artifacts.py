"""artifacts

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 04:22:24.344375
"""
from alembic import op
import sqlalchemy as sa

from app.db import UTCDateTime


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('artifacts',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('tenant', sa.String(length=128), nullable=False),
    sa.Column('project', sa.String(length=128), nullable=True),
    sa.Column('name', sa.String(length=256), nullable=False),
    sa.Column('type', sa.String(length=64), nullable=False),
    sa.Column('metadata', sa.JSON(), nullable=False),
    sa.Column('job_id', sa.String(length=36), nullable=True),
    sa.Column('manifest_id', sa.String(length=36), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('content_type', sa.String(length=256), nullable=True),
    sa.Column('size', sa.BigInteger(), nullable=True),
    sa.Column('digest', sa.String(length=71), nullable=True),
    sa.Column('expires_at', UTCDateTime(), nullable=True),
    sa.Column('read_permission', sa.String(length=32), nullable=True),
    sa.Column('created_by', sa.String(length=256), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('updated_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('artifacts', schema=None) as batch_op:
        batch_op.create_index('ix_artifacts_expires_at', ['expires_at'], unique=False)
        batch_op.create_index('ix_artifacts_job_id', ['job_id'], unique=False)
        batch_op.create_index('ix_artifacts_tenant_created', ['tenant', 'created_at', 'id'], unique=False)

    op.create_table('artifact_manifests',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('artifact_id', sa.String(length=36), nullable=False),
    sa.Column('tenant', sa.String(length=128), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('digest', sa.String(length=71), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('content_type', sa.String(length=256), nullable=False),
    sa.Column('storage_key', sa.String(length=512), nullable=False),
    sa.Column('created_by', sa.String(length=256), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('reason', sa.String(length=512), nullable=False),
    sa.ForeignKeyConstraint(['artifact_id'], ['artifacts.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('artifact_manifests', schema=None) as batch_op:
        batch_op.create_index('ix_artifact_manifests_storage_key', ['storage_key'], unique=False)
        batch_op.create_index('ix_artifact_manifests_tenant', ['tenant'], unique=False)
        batch_op.create_index('uq_artifact_manifests_version', ['artifact_id', 'version'], unique=True)



def downgrade() -> None:
    with op.batch_alter_table('artifact_manifests', schema=None) as batch_op:
        batch_op.drop_index('uq_artifact_manifests_version')
        batch_op.drop_index('ix_artifact_manifests_tenant')
        batch_op.drop_index('ix_artifact_manifests_storage_key')

    op.drop_table('artifact_manifests')
    with op.batch_alter_table('artifacts', schema=None) as batch_op:
        batch_op.drop_index('ix_artifacts_tenant_created')
        batch_op.drop_index('ix_artifacts_job_id')
        batch_op.drop_index('ix_artifacts_expires_at')

    op.drop_table('artifacts')
