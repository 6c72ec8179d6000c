"""A health centre with a doctor and a nurse, and its patients followed from home, on
SQLite and PostgreSQL."""

from __future__ import annotations

import httpx
import pytest

from mor.fhir.store import Store
from tests.video.conftest import Centre, centre_with_staff


@pytest.fixture
def store(client: httpx.AsyncClient) -> Store:
    found: Store = client.app.state.store  # type: ignore[attr-defined]
    return found


@pytest.fixture
async def centre(store: Store) -> Centre:
    return await centre_with_staff(store)
