"""A video consultation over a weak and a dropping link: mor and both browsers run in a
network namespace of the test's own, whose loopback ``tc`` slows down or cuts.

- Slowed to 300 kbit/s (a ``tbf`` queue, as on a weak mobile link), the call goes to
  sound only and both pages say so; with the limit gone, video comes back.
- Cut for several seconds, the call comes back by itself (an ICE restart), and video
  and sound arrive again, with nobody pressing anything.

On SQLite: the link, not the database, is under test, and one process serves both.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from mor.api.app import create_app
from mor.config import Settings
from mor.db.migrate import upgrade
from mor.fhir.store import Store
from tests.conftest import running_mor
from tests.e2e.conftest import CHROMIUM_ARGS, watched_page
from tests.e2e.netns import LOOPBACK_CALLS, NetworkNamespace
from tests.e2e.test_video_consult import in_a_call

# Frames decoded so far of the other side's camera, and samples of its sound.
RECEIVED_SO_FAR = """async () => {
  const pc = window.morCall && window.morCall.pc;
  const got = { frames: 0, samples: 0 };
  if (!pc) return got;
  (await pc.getStats()).forEach((report) => {
    if (report.type !== "inbound-rtp") return;
    if (report.kind === "video") got.frames += report.framesDecoded || 0;
    if (report.kind === "audio") got.samples += report.totalSamplesReceived || 0;
  });
  return got;
}"""
SOUND_ONLY = "sound only"


@dataclass(frozen=True)
class City:
    network: NetworkNamespace
    site: str
    store: Store
    browser: Browser


@pytest.fixture(scope="module")
def namespace() -> Iterator[NetworkNamespace]:
    with NetworkNamespace() as network:
        yield network


@pytest.fixture(scope="module")
def city_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    folder = tmp_path_factory.mktemp("weak-network")
    url = f"sqlite:///{folder / 'mor.db'}"
    upgrade(url)
    return Settings(database_url=url, export_dir=folder / "exports",
                    secret_key_file=folder / "secret.key", outbox_dir=folder / "outbox",
                    rate_limit_per_minute=0)


@pytest.fixture(scope="module")
async def city(namespace: NetworkNamespace, city_settings: Settings,
               tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[City]:
    """mor serving inside the namespace, a Chromium that runs there too, and the store
    behind them for the test's own set-up."""
    app = create_app(city_settings)
    launcher = namespace.chromium(tmp_path_factory.mktemp("launcher"))
    with running_mor(city_settings, inside=namespace.command) as base:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=str(launcher), args=[*CHROMIUM_ARGS, LOOPBACK_CALLS])
            yield City(namespace, base.removesuffix("/fhir"), app.state.store, browser)
            await browser.close()
    await app.state.store.engine.dispose()


@pytest.fixture
def network(city: City) -> Iterator[NetworkNamespace]:
    """The namespace's link, given back unlimited after the test whatever happened."""
    yield city.network
    city.network.restore()


async def frames_and_samples(page: Page) -> tuple[int, int]:
    got = await page.evaluate(RECEIVED_SO_FAR)
    return int(got["frames"]), int(got["samples"])


async def media_flows(page: Page, within: float = 10) -> bool:
    """Whether new video frames and sound samples arrive, within ``within`` seconds: on
    a shared CI machine the first frames after a reconnection can take a few."""
    before = await frames_and_samples(page)
    deadline = asyncio.get_running_loop().time() + within
    while asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(1)
        now = await frames_and_samples(page)
        if now[0] > before[0] and now[1] > before[1]:
            return True
    return False


async def until(page: Page, script: str, within: float, what: str) -> None:
    """Waits until the page's ``script`` is true; fails saying what the call shows."""
    deadline = asyncio.get_running_loop().time() + within
    while asyncio.get_running_loop().time() < deadline:
        if await page.evaluate(script):
            return
        await asyncio.sleep(0.5)
    status = await page.evaluate("window.morCall.status")
    raise AssertionError(f"{what} did not happen within {within} s on {page.url}; the "
                         f"page says {status!r}")


async def test_a_weak_link_goes_to_sound_only_and_video_comes_back(
        city: City, network: NetworkNamespace) -> None:
    async with watched_page(city.browser, city.site) as patient, \
            watched_page(city.browser, city.site) as doctor:
        await in_a_call(city.store, patient, doctor)

        network.limit_to(300)
        for side in (patient, doctor):
            await expect(side.locator("#call-status")).to_contain_text(SOUND_ONLY,
                                                                       timeout=60_000)
        # Sound goes on while video is off.
        before = await frames_and_samples(patient)
        await asyncio.sleep(4)
        after = await frames_and_samples(patient)
        assert after[1] > before[1], "no sound arrived during the sound-only call"

        network.restore()
        for side in (patient, doctor):
            await until(side, "window.morCall.sendingVideo && window.morCall.theirVideo",
                        60, "video coming back")
        frames = (await frames_and_samples(doctor))[0]
        await asyncio.sleep(2)
        assert (await frames_and_samples(doctor))[0] > frames, "video did not come back"


async def test_a_dropped_link_reconnects_by_itself(city: City,
                                                   network: NetworkNamespace) -> None:
    async with watched_page(city.browser, city.site) as patient, \
            watched_page(city.browser, city.site) as doctor:
        await in_a_call(city.store, patient, doctor)

        network.cut()
        for side in (patient, doctor):
            await expect(side.locator("#call-status")).to_contain_text("Reconnecting",
                                                                       timeout=30_000)
        await asyncio.sleep(5)
        network.restore()

        for side in (patient, doctor):
            await expect(side.locator("#call-status")).to_have_text("Connected",
                                                                    timeout=30_000)
            assert await media_flows(side), \
                f"the call on {side.url} came back without video or sound"
        assert await doctor.evaluate("window.morCall.iceRestarts") >= 1
