"""Database plumbing shared by every node: engines for SQLite and PostgreSQL, column types,
Alembic runs.
"""
