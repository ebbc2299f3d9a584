"""The gateway's one ISO-8601 ``Z`` formatter (re-exported from :mod:`services.common.timefmt`,
which the other services use too)."""

from __future__ import annotations

from services.common.timefmt import iso_z, utc_timestamp

__all__ = ["iso_z", "utc_timestamp"]
