"""Durable jobs (issue 15): the lease columns of ``jobs`` (attempts, lease_expires_at, request,
objects) and the transactional ``outbox`` table.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the lease columns and the outbox."""
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("attempts", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("request", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("objects", sa.JSON(), server_default="[]", nullable=False))
        batch.create_index(batch.f("ix_jobs_lease_expires_at"), ["lease_expires_at"], unique=False)
    op.create_table(
        "outbox",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("topic", sa.String(length=255), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("event", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("available_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=255), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
    )
    op.create_index("ix_outbox_pending", "outbox", ["sent_at", "available_at"], unique=False)


def downgrade() -> None:
    """Drop the outbox and the lease columns."""
    op.drop_index("ix_outbox_pending", table_name="outbox")
    op.drop_table("outbox")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_index(batch.f("ix_jobs_lease_expires_at"))
        batch.drop_column("objects")
        batch.drop_column("request")
        batch.drop_column("lease_expires_at")
        batch.drop_column("attempts")
