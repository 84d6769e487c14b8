"""Report text search on PostgreSQL: the bigram functions and a GIN index over a report's searchable text.

Nothing on SQLite (it searches with LIKE). No extension is needed, so an ordinary database owner can run it.

Revision ID: 0012_report_search
Revises: 0011_message_staff
Create Date: 2026-12-02 05:45:00

"""
from typing import Sequence, Union

from alembic import op

from models.report import DROP_SEARCH_FUNCTIONS_SQL, SEARCH_FUNCTIONS_SQL

revision: str = '0012_report_search'
down_revision: Union[str, Sequence[str], None] = '0011_message_staff'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for statement in SEARCH_FUNCTIONS_SQL:
        op.execute(statement)
    op.execute("CREATE INDEX IF NOT EXISTS ix_activity_report_search ON activity_report "
               "USING gin (qj_report_grams(receipt_no, title, place, content))")
    op.execute("ANALYZE activity_report")  # the planner's estimates for the new expression


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX IF EXISTS ix_activity_report_search")
    for statement in DROP_SEARCH_FUNCTIONS_SQL:
        op.execute(statement)
