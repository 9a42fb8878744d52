"""Alembic migrations of the platform schema."""
