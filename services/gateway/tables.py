"""Every table the gateway owns, on one metadata (``Base.metadata``).

Alembic's ``env.py`` and the schema tests import this module, so a product's
``models.py`` is listed here once (one import line per product) and its tables are
then known to migrations and to ``tests/unit/test_db.py``.
"""

from __future__ import annotations

from services.gateway.models import Base
from services.gateway.products.anc import models as anc_models
from services.gateway.products.interviews import models as interview_models
from services.gateway.products.meetings import models as meeting_models
from services.gateway.products.photos import models as photo_models

__all__ = ["Base", "anc_models", "interview_models", "meeting_models", "photo_models"]
