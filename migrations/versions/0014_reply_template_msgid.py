"""thread_entry.platform_id: a template reply's msgid, so WeChat's TEMPLATESENDJOBFINISH event can mark a reply the
resident never received as failed on its thread.

Revision ID: 0014_reply_template_msgid
Revises: 0013_delivery_index
Create Date: 2026-12-02

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = '0014_reply_template_msgid'
down_revision: Union[str, Sequence[str], None] = '0013_delivery_index'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('thread_entry', schema=None) as batch_op:
        batch_op.add_column(sa.Column('platform_id', sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f('ix_thread_entry_platform_id'), ['platform_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('thread_entry', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_thread_entry_platform_id'))
        batch_op.drop_column('platform_id')
