"""Tables of the meeting memos (seed 003).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 00:00:00
"""

from collections.abc import Sequence

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """No schema change yet: the revision is reserved so product migrations chain linearly."""


def downgrade() -> None:
    """No schema change yet."""
