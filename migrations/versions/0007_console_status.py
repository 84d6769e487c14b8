"""job_run: the last run of each scheduler job and of `sync-menu`, for the console's 设置与状态 page

Revision ID: 0007_console_status
Revises: 0006_api_token_expiry
Create Date: 2026-12-03

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

import models.base

revision: str = '0007_console_status'
down_revision: Union[str, Sequence[str], None] = '0006_api_token_expiry'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        'job_run',
        sa.Column('name', sa.String(length=64), nullable=False),
        sa.Column('started_at', models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column('finished_at', models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column('ok', sa.Boolean(), nullable=False),
        sa.Column('detail', sa.String(length=255), nullable=False),
        sa.Column('last_ok_at', models.base.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_job_run')),
    )


def downgrade() -> None:
    op.drop_table('job_run')
