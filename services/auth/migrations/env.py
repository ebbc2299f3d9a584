"""Alembic environment for the auth service's migrations (see :func:`services.common.db.run_alembic_env`)."""

from services.auth.models import Base
from services.common.db import run_alembic_env

run_alembic_env(Base.metadata)
