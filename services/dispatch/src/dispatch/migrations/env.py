"""Alembic environment: the migrations are frozen DDL and need no model metadata."""

from common.db import run_migrations_online

run_migrations_online()
