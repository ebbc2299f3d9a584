"""Create the photo tasks table (seed 002: photo -> music video).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-20 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ``photo_tasks`` with its status/progress checks and owner/status/created_at indexes."""
    op.create_table(
        "photo_tasks",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("progress", sa.Integer(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("captions", sa.Boolean(), nullable=False),
        sa.Column("error", sa.String(length=64), nullable=True),
        sa.Column("error_details", sa.String(length=500), nullable=True),
        sa.Column("photo_key", sa.String(length=255), nullable=False),
        sa.Column("photo_format", sa.String(length=8), nullable=False),
        sa.Column("photo_size", sa.BigInteger(), nullable=False),
        sa.Column("photo_width", sa.Integer(), nullable=False),
        sa.Column("photo_height", sa.Integer(), nullable=False),
        sa.Column("music_key", sa.String(length=255), nullable=True),
        sa.Column("music_size", sa.BigInteger(), nullable=True),
        sa.Column("video_key", sa.String(length=255), nullable=True),
        sa.Column("video_size", sa.BigInteger(), nullable=True),
        sa.Column("video_width", sa.Integer(), nullable=True),
        sa.Column("video_height", sa.Integer(), nullable=True),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.Column("title", sa.String(length=120), nullable=True),
        sa.Column("mood", sa.String(length=32), nullable=True),
        sa.Column("lyrics", sa.Text(), nullable=True),
        sa.Column("music_prompt", sa.String(length=500), nullable=True),
        sa.Column("analysis", sa.JSON(), nullable=True),
        sa.Column("lyrics_engine", sa.String(length=16), nullable=True),
        sa.Column("music_engine", sa.String(length=16), nullable=True),
        sa.Column("processing_s", sa.Float(), nullable=True),
        sa.Column("warnings", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('queued', 'analyzing', 'composing', 'rendering', 'done', 'failed')",
            name=op.f("ck_photo_tasks_status"),
        ),
        sa.CheckConstraint("progress >= 0 AND progress <= 100", name=op.f("ck_photo_tasks_progress")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_photo_tasks")),
    )
    op.create_index(op.f("ix_photo_tasks_owner"), "photo_tasks", ["owner"], unique=False)
    op.create_index(op.f("ix_photo_tasks_status"), "photo_tasks", ["status"], unique=False)
    op.create_index(op.f("ix_photo_tasks_created_at"), "photo_tasks", ["created_at"], unique=False)


def downgrade() -> None:
    """Drop ``photo_tasks``."""
    op.drop_index(op.f("ix_photo_tasks_created_at"), table_name="photo_tasks")
    op.drop_index(op.f("ix_photo_tasks_status"), table_name="photo_tasks")
    op.drop_index(op.f("ix_photo_tasks_owner"), table_name="photo_tasks")
    op.drop_table("photo_tasks")
