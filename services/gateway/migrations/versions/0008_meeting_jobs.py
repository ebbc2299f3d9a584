"""Meeting processing runs are jobs (issue 15): ``jobs.id`` holds ``meeting:<uuid>:<run>``,
so the column grows from 36 to 64 characters.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Widen ``jobs.id`` to 64 characters."""
    with op.batch_alter_table("jobs") as batch:
        batch.alter_column("id", existing_type=sa.String(length=36), type_=sa.String(length=64))


def downgrade() -> None:
    """Narrow ``jobs.id`` back to 36 characters (meeting run jobs must be deleted first)."""
    with op.batch_alter_table("jobs") as batch:
        batch.alter_column("id", existing_type=sa.String(length=64), type_=sa.String(length=36))
