"""migration-check: check Alembic migrations against SQLAlchemy models on a throwaway PostgreSQL."""

__version__ = "0.1.0"
