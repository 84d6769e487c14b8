"""ix_activity_report_tally: one index holding every column that compliance and statistics count by, so their
GROUP BYs read the index alone (an index-only scan on PostgreSQL) instead of every report row.

Revision ID: 0010_compliance_indexes
Revises: 0009_resident_messages
Create Date: 2026-12-02

"""
from typing import Sequence, Union

from alembic import op

revision: str = '0010_compliance_indexes'
down_revision: Union[str, Sequence[str], None] = '0009_resident_messages'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

COLUMNS = ['activity_date', 'status', 'unit_id', 'activity_type', 'category', 'participants']


def upgrade() -> None:
    with op.batch_alter_table('activity_report', schema=None) as batch_op:
        batch_op.create_index('ix_activity_report_tally', COLUMNS, unique=False)


def downgrade() -> None:
    with op.batch_alter_table('activity_report', schema=None) as batch_op:
        batch_op.drop_index('ix_activity_report_tally')
