"""Alembic migrations of the gateway's tables (version table ``alembic_version_gateway``).

Run them with :func:`services.common.db.run_migrations`, passing this folder
as ``script_location``.
"""
