"""Tables of the interview coach (seed 001).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 00:00:00
"""

from collections.abc import Sequence

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """No schema change yet: the revision is reserved so product migrations chain linearly."""


def downgrade() -> None:
    """No schema change yet."""
