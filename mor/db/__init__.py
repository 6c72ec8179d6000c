"""The database layer: schema, engine and migrations, for SQLite and PostgreSQL."""
