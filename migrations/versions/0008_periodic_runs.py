"""periodic runs: one row per periodic task, so two beats do its work once

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 13:10:00.000000
"""
from alembic import op
import sqlalchemy as sa

from app.db import UTCDateTime


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('periodic_runs',
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('last_run_at', UTCDateTime(), nullable=False),
    sa.Column('last_run_by', sa.String(length=255), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )


def downgrade() -> None:
    op.drop_table('periodic_runs')
