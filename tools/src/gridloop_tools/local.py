"""Where the tools look for local infrastructure unless told otherwise."""

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
"""The development machine's PostgreSQL server (trust auth), in the sync driver's form."""
