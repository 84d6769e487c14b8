"""admin_user.session_generation: console sessions carry it and end when it changes

Sign-out and a password change bump the number, so a copied session cookie stops working at once.

Revision ID: 0005_admin_session_generation
Revises: 0004_replay_guard
Create Date: 2026-12-02

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

revision: str = '0005_admin_session_generation'
down_revision: Union[str, Sequence[str], None] = '0004_replay_guard'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('admin_user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_generation', sa.Integer(), server_default='0', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('admin_user', schema=None) as batch_op:
        batch_op.drop_column('session_generation')
