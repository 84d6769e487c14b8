"""resident_thread by created_at: the staff inbox lists every thread newest first (and filters by date) without
sorting the table.

Revision ID: 0011_message_staff
Revises: 0010_compliance_indexes
Create Date: 2026-12-02 06:25:00

"""
from typing import Sequence, Union

from alembic import op

revision: str = '0011_message_staff'
down_revision: Union[str, Sequence[str], None] = '0010_compliance_indexes'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('resident_thread', schema=None) as batch_op:
        batch_op.create_index('ix_resident_thread_created', ['created_at'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('resident_thread', schema=None) as batch_op:
        batch_op.drop_index('ix_resident_thread_created')
