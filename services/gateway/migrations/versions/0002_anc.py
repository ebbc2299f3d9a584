"""Create the ANC tables: anc_sessions and anc_metrics.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-20 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ``anc_sessions`` (owner column for per-user filtering) and ``anc_metrics``."""
    op.create_table(
        "anc_sessions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("algorithm", sa.String(length=16), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("sample_rate", sa.Integer(), nullable=False),
        sa.Column("samples", sa.BigInteger(), nullable=False),
        sa.Column("output_key", sa.String(length=255), nullable=True),
        sa.Column("noise_class", sa.String(length=32), nullable=True),
        sa.Column("emergency", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("kind IN ('file', 'stream')", name=op.f("ck_anc_sessions_kind")),
        sa.CheckConstraint(
            "status IN ('open', 'active', 'completed', 'closed', 'failed')",
            name=op.f("ck_anc_sessions_status"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_anc_sessions")),
    )
    op.create_index(op.f("ix_anc_sessions_owner"), "anc_sessions", ["owner"], unique=False)
    op.create_index(op.f("ix_anc_sessions_created_at"), "anc_sessions", ["created_at"], unique=False)
    op.create_table(
        "anc_metrics",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("session_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("attenuation_db", sa.Float(), nullable=False),
        sa.Column("steady_state_attenuation_db", sa.Float(), nullable=True),
        sa.Column("convergence_time_ms", sa.Float(), nullable=True),
        sa.Column("octave_bands", sa.JSON(), nullable=False),
        sa.Column("samples", sa.BigInteger(), nullable=False),
        sa.Column("dsp_ms_mean", sa.Float(), nullable=True),
        sa.Column("noise_class", sa.String(length=32), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("emergency", sa.Boolean(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["anc_sessions.id"],
            name=op.f("fk_anc_metrics_session_id_anc_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_anc_metrics")),
    )
    op.create_index(op.f("ix_anc_metrics_session_id"), "anc_metrics", ["session_id"], unique=False)


def downgrade() -> None:
    """Drop the ANC tables."""
    op.drop_index(op.f("ix_anc_metrics_session_id"), table_name="anc_metrics")
    op.drop_table("anc_metrics")
    op.drop_index(op.f("ix_anc_sessions_created_at"), table_name="anc_sessions")
    op.drop_index(op.f("ix_anc_sessions_owner"), table_name="anc_sessions")
    op.drop_table("anc_sessions")
