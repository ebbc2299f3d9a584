"""ANC batch jobs: 'queued' and 'processing' session states, progress and failure reason.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-20 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD = "status IN ('open', 'active', 'completed', 'closed', 'failed')"
_NEW = "status IN ('open', 'active', 'queued', 'processing', 'completed', 'closed', 'failed')"


def upgrade() -> None:
    """Widen the status check; add ``progress``, ``error`` and ``error_details`` to ``anc_sessions``."""
    with op.batch_alter_table("anc_sessions") as batch:
        batch.drop_constraint(op.f("ck_anc_sessions_status"), type_="check")
        batch.create_check_constraint(op.f("ck_anc_sessions_status"), _NEW)
        batch.add_column(sa.Column("progress", sa.Float(), nullable=True))
        batch.add_column(sa.Column("error", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("error_details", sa.String(length=500), nullable=True))


def downgrade() -> None:
    """Back to revision 0003 (batch sessions are removed first)."""
    op.execute("DELETE FROM anc_sessions WHERE status IN ('queued', 'processing')")
    with op.batch_alter_table("anc_sessions") as batch:
        batch.drop_column("error_details")
        batch.drop_column("error")
        batch.drop_column("progress")
        batch.drop_constraint(op.f("ck_anc_sessions_status"), type_="check")
        batch.create_check_constraint(op.f("ck_anc_sessions_status"), _OLD)
