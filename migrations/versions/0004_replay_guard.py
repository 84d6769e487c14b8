"""inbound_message.replay_key: the signed timestamp and nonce of each message, unique

A signature copied from a log could be replayed with any message: the unique (timestamp, nonce) pair refuses a
second message under it, in the insert the message log already does (service/wechat/inbox.py). Timestamp first, so
new keys go to the end of the index. Rows stored before have none (NULL: no conflict).

Revision ID: 0004_replay_guard
Revises: 0003_first_week
Create Date: 2026-12-02

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

revision: str = '0004_replay_guard'
down_revision: Union[str, Sequence[str], None] = '0003_first_week'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('inbound_message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('replay_key', sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f('ix_inbound_message_replay_key'), ['replay_key'], unique=True)


def downgrade() -> None:
    with op.batch_alter_table('inbound_message', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inbound_message_replay_key'))
        batch_op.drop_column('replay_key')
