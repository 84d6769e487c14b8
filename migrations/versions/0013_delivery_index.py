"""Drop ix_delivery_announcement_id: the unique key (announcement_id, openid, occurrence) starts with the same column
and serves every lookup by announcement, while each extra index costs planning an announcement to 100,000 followers
another index to keep.

Revision ID: 0013_delivery_index
Revises: 0012_report_search
Create Date: 2026-12-02

"""
from typing import Sequence, Union

from alembic import op

revision: str = '0013_delivery_index'
down_revision: Union[str, Sequence[str], None] = '0012_report_search'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_delivery_announcement_id'))


def downgrade() -> None:
    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_delivery_announcement_id'), ['announcement_id'], unique=False)
