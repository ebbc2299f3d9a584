"""One ISO-8601 formatter for every timestamp Earshot shows: UTC, ``Z`` suffix.

Used by the gateway's JSON bodies, CloudEvents ``time`` and the user commands, so every
answer and event spells time the same way (RFC 3339 profile of ISO 8601).
"""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["iso_z", "utc_timestamp"]


def iso_z(value: datetime | None, *, seconds: bool = True) -> str | None:
    """``value`` as ISO 8601 in UTC with a ``Z`` suffix, e.g. ``2026-01-02T03:04:05Z``.

    Args:
        value: a timezone-aware datetime (a naive one is taken as UTC), or ``None``.
        seconds: drop the microseconds (the API's precision); ``False`` keeps them.

    Returns:
        The text, or ``None`` for ``None``.
    """
    if value is None:
        return None
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if seconds:
        value = value.replace(microsecond=0)
    return value.isoformat().replace("+00:00", "Z")


def utc_timestamp(*, seconds: bool = True) -> str:
    """The current UTC time as :func:`iso_z` formats it."""
    text = iso_z(datetime.now(UTC), seconds=seconds)
    assert text is not None
    return text
