"""A health centre with a doctor and a nurse, and its patients followed from home, on
SQLite and PostgreSQL: the video consults' fixtures."""

from tests.video.conftest import centre, store

__all__ = ["centre", "store"]
