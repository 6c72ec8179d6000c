"""A health centre with a doctor and a nurse, on SQLite and PostgreSQL, as for signing."""

from tests.records.conftest import centre, store

__all__ = ["centre", "store"]
