"""At most one active interview per user and track: a partial unique index on
``interviews (user_id, track) WHERE status = 'active'``, so two "create" calls that race
resume one interview instead of starting two.

Rows that already break the rule (made by such a race before this version) are settled
first: for each user and track, the newest active interview stays active and the older
ones are marked ``completed`` at their own ``created_at`` (nothing is deleted; their
questions, attempts and reports stay readable).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 11:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Complete the older duplicates, then add the partial unique index."""
    op.execute(
        sa.text(
            "UPDATE interviews SET status = 'completed', completed_at = created_at "
            "WHERE status = 'active' AND id < ("
            "SELECT MAX(newer.id) FROM interviews AS newer "
            "WHERE newer.user_id = interviews.user_id AND newer.track = interviews.track "
            "AND newer.status = 'active')"
        )
    )
    op.create_index(
        "uq_interviews_user_id_track_active",
        "interviews",
        ["user_id", "track"],
        unique=True,
        sqlite_where=sa.text("status = 'active'"),
        postgresql_where=sa.text("status = 'active'"),
    )


def downgrade() -> None:
    """Drop the index (the completed duplicates stay completed)."""
    op.drop_index("uq_interviews_user_id_track_active", table_name="interviews")
