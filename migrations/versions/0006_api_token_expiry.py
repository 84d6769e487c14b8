"""api_token.expires_at: bearer tokens expire (365 days after issue unless chosen otherwise)

Tokens issued before this revision expire 365 days after they were created.

Revision ID: 0006_api_token_expiry
Revises: 0005_admin_session_generation
Create Date: 2026-12-02

"""
from datetime import timedelta
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

import models.base

revision: str = '0006_api_token_expiry'
down_revision: Union[str, Sequence[str], None] = '0005_admin_session_generation'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

LEGACY_LIFETIME = timedelta(days=365)


def upgrade() -> None:
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.add_column(sa.Column('expires_at', models.base.UTCDateTime(timezone=True), nullable=True))
    token = sa.table('api_token', sa.column('id', sa.Integer()),
                     sa.column('created_at', models.base.UTCDateTime(timezone=True)),
                     sa.column('expires_at', models.base.UTCDateTime(timezone=True)))
    conn = op.get_bind()
    for token_id, created_at in conn.execute(sa.select(token.c.id, token.c.created_at)).all():
        conn.execute(token.update().where(token.c.id == token_id).values(expires_at=created_at + LEGACY_LIFETIME))
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.alter_column('expires_at', existing_type=models.base.UTCDateTime(timezone=True), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.drop_column('expires_at')
