"""report_revision: a rejected report fixed and resubmitted keeps its receipt number; each earlier submission and
the rejection it received are kept here.

Revision ID: 0008_report_resubmission
Revises: 0007_console_status
Create Date: 2026-12-02

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

import models.base

revision: str = '0008_report_resubmission'
down_revision: Union[str, Sequence[str], None] = '0007_console_status'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('report_revision',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('fields', sa.JSON(), nullable=False),
    sa.Column('submitted_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('review_reason', sa.String(length=500), nullable=False),
    sa.Column('reviewed_by', sa.String(length=64), nullable=False),
    sa.Column('reviewed_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('resubmitted_by', sa.String(length=64), nullable=False),
    sa.Column('resubmitted_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['report_id'], ['activity_report.id'],
                            name=op.f('fk_report_revision_report_id_activity_report')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_revision'))
    )
    with op.batch_alter_table('report_revision', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_report_revision_report_id'), ['report_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('report_revision', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_report_revision_report_id'))
    op.drop_table('report_revision')
