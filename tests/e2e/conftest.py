"""Page tests in a real browser: Debian's Chromium driven by Playwright, against mor
served by uvicorn over TCP (the suite's ``live_server``, so on SQLite and PostgreSQL).

Fixtures:
    chromium        the browser, one for the whole session
    mor_site        the address of the live mor, e.g. http://127.0.0.1:38211
    browser_locale  the browser's language, "en" unless a test parametrizes it
    page            a new page in a new context (no cookies), phone-sized, on mor_site

    async with watched_page(chromium, mor_site, locale) as page: ...
                    another such page, for tests with several people at once

Helpers (``from tests.e2e.conftest import check_accessibility, screenshot``):
    await check_accessibility(page)       fails on axe-core's serious or critical findings
    await screenshot(page, name, size)    docs/screenshots/<name>.png, "phone" or "desktop"

Playwright never downloads a browser here: scripts/install --test installs Chromium
with apt-get and axe-core with npm (tests/e2e/package-lock.json).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import cache
from pathlib import Path
from typing import Any, Final, Literal

import pytest
from playwright.async_api import (
    Browser,
    ConsoleMessage,
    Page,
    Response,
    ViewportSize,
    async_playwright,
)

CHROMIUM: Final = Path("/usr/bin/chromium")
CHROMIUM_ARGS: Final = [
    # Tests run as root, with no GPU and no network beyond the machine.
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    # A fake camera and microphone, allowed without asking, for the video-consult pages.
    "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
]
AXE: Final = Path(__file__).parent / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS: Final = Path(__file__).parents[2] / "docs" / "screenshots"
SIZES: Final[dict[str, ViewportSize]] = {
    "phone": {"width": 390, "height": 844},
    "desktop": {"width": 1280, "height": 800},
}
# Fail in seconds, not Playwright's default 30, when a page lacks what a test waits for.
TIMEOUT_MS: Final = 5000
INSTALL_HINT: Final = "run scripts/install --test, which installs it"


@pytest.fixture(scope="session")
async def chromium() -> AsyncIterator[Browser]:
    if not CHROMIUM.is_file():
        pytest.fail(f"The browser tests need Chromium at {CHROMIUM}; {INSTALL_HINT}.")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM),
                                                   args=CHROMIUM_ARGS)
        yield browser
        await browser.close()


@pytest.fixture(scope="session")
def mor_site(live_server: str) -> str:
    return live_server.removesuffix("/fhir")


@pytest.fixture
def browser_locale() -> str:
    """Override with ``@pytest.mark.parametrize("browser_locale", ["th-TH"])``."""
    return "en"


@pytest.fixture
async def page(chromium: Browser, mor_site: str, browser_locale: str) -> AsyncIterator[Page]:
    """A fresh phone-sized page; relative URLs go to mor. The test fails if the page logs
    an error (a missing stylesheet, a script the Content-Security-Policy blocked)."""
    async with watched_page(chromium, mor_site, browser_locale) as opened:
        yield opened


@asynccontextmanager
async def watched_page(chromium: Browser, mor_site: str, locale: str = "en",
                       ) -> AsyncIterator[Page]:
    """A page in a context of its own (its own cookies: one person), failing the test at
    the end if it logged an error; for tests with several people at once."""
    context = await chromium.new_context(base_url=mor_site, locale=locale,
                                         viewport=SIZES["phone"])
    context.set_default_timeout(TIMEOUT_MS)
    opened = await context.new_page()
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        # Failed loads are told by on_response, which knows a page answered 400 on purpose.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            errors.append(f"{message.text} ({message.location.get('url', '')})")

    def on_response(response: Response) -> None:
        # Chromium asks for /favicon.ico by itself; mor has none.
        if (response.status >= 400 and response.request.resource_type != "document"
                and not response.url.endswith("/favicon.ico")):
            errors.append(f"{response.request.method} {response.url}: {response.status}")

    opened.on("console", on_console)
    opened.on("response", on_response)
    opened.on("pageerror", lambda error: errors.append(str(error)))
    try:
        yield opened
    finally:
        await context.close()
    if errors:
        pytest.fail("The page logged errors:\n" + "\n".join(errors))


async def check_accessibility(page: Page) -> None:
    """Runs axe-core on the page as it is now; fails listing each serious or critical
    violation with the elements it found it on and how to fix them."""
    # Evaluated through the DevTools protocol, so mor's Content-Security-Policy (no inline
    # scripts) stays on for the page under test; a <script> tag would be refused.
    await page.evaluate(f"{_axe_source()}\n;undefined")
    results: dict[str, Any] = await page.evaluate("axe.run()")
    serious = [v for v in results["violations"] if v["impact"] in ("serious", "critical")]
    if serious:
        pytest.fail(f"axe-core found accessibility problems on {page.url}:\n"
                    + "\n".join(_describe(violation) for violation in serious))


async def screenshot(page: Page, name: str, size: Literal["phone", "desktop"] = "phone"
                     ) -> Path:
    """The visible part of the page at a phone's or a desktop's size, for the docs."""
    path = SCREENSHOTS / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    before = page.viewport_size
    await page.set_viewport_size(SIZES[size])
    await page.screenshot(path=path, animations="disabled", caret="hide")
    if before is not None:
        await page.set_viewport_size(before)
    return path


@cache
def _axe_source() -> str:
    if not AXE.is_file():
        pytest.fail(f"The accessibility checks need axe-core at {AXE}; {INSTALL_HINT}.")
    return AXE.read_text(encoding="utf-8")


def _describe(violation: dict[str, Any]) -> str:
    lines = [f"- {violation['id']} ({violation['impact']}): {violation['help']} "
             f"<{violation['helpUrl']}>"]
    for node in violation["nodes"]:
        lines.append(f"    at {json.dumps(node['target'])}: {node['html'][:200]}")
        lines.extend(f"      {line}" for line in node["failureSummary"].splitlines())
    return "\n".join(lines)
