"""A video consultation through a TURN relay only: Debian's coturn runs beside mor,
mor is set with MOR_ICE_URLS, MOR_TURN_SECRET_FILE and MOR_ICE_RELAY_ONLY=1, and both
browsers still see and hear each other, their media on relayed candidates (the
``iceTransportPolicy: "relay"`` a city sets so that no browser learns the other's
address). Each browser's TURN username names the person by resource id."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page
from starlette.applications import Starlette

from mor.auth.accounts import Accounts
from mor.config import Settings
from tests.conftest import running_mor
from tests.e2e.conftest import watched_page
from tests.e2e.test_video_consult import in_a_call
from tests.video.coturn import Coturn, coturn_on_loopback

# The kinds of the local and remote candidates the call's media flows on now.
CANDIDATE_TYPES = """async () => {
  const stats = await window.morCall.pc.getStats();
  let pair = null;
  stats.forEach((report) => {
    if (report.type === "transport" && report.selectedCandidatePairId) {
      pair = stats.get(report.selectedCandidatePairId);
    }
  });
  if (!pair) return null;
  return [stats.get(pair.localCandidateId).candidateType,
          stats.get(pair.remoteCandidateId).candidateType];
}"""


@pytest.fixture(scope="module")
def coturn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Coturn]:
    with coturn_on_loopback(tmp_path_factory.mktemp("coturn")) as server:
        yield server


@pytest.fixture
def relayed_site(settings: Settings, coturn: Coturn, tmp_path: Path) -> Iterator[str]:
    """mor told to send every call through coturn."""
    secret = tmp_path / "turn-secret"
    assert coturn.ice.turn_secret is not None
    secret.write_text(coturn.ice.turn_secret)
    with running_mor(settings, environment={
            "MOR_ICE_URLS": ",".join(coturn.ice.urls), "MOR_TURN_SECRET_FILE": str(secret),
            "MOR_ICE_RELAY_ONLY": "1"}) as base:
        yield base.removesuffix("/fhir")


async def test_a_call_connects_through_the_turn_relay_alone(
        chromium: Browser, relayed_site: str, coturn: Coturn, app: Starlette) -> None:
    store = app.state.store
    async with watched_page(chromium, relayed_site) as patient, \
            watched_page(chromium, relayed_site) as doctor:
        made = await in_a_call(store, patient, doctor)
        for side in (patient, doctor):
            assert await side.evaluate(CANDIDATE_TYPES) == ["relay", "relay"], \
                coturn.log_tail()
        doctor_account = await Accounts(store.engine).find(made.doctor_username)
        assert doctor_account is not None and doctor_account.fhir_user is not None
        assert (await turn_username(doctor)).endswith(
            ":" + doctor_account.fhir_user.replace("/", "-"))
        assert ":Patient-" in await turn_username(patient)


async def turn_username(page: Page) -> str:
    """The TURN username mor gave this page: ``<expiry>:<person's resource type-id>``."""
    servers = await page.evaluate("""() => fetch(location.pathname + "/ice")
        .then((answer) => answer.json())""")
    (turn,) = servers["iceServers"]
    return str(turn["username"])
