"""Alembic environment for the gateway's migrations (see :func:`services.common.db.run_alembic_env`)."""

from services.common.db import run_alembic_env
from services.gateway.tables import Base

run_alembic_env(Base.metadata)
