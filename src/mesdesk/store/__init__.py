"""The store: SQLAlchemy 2 on SQLite by default, PostgreSQL by URL, migrated by Alembic."""
