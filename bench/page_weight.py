"""Benchmark: the patient's booking pages on a slow phone link, in Chromium.

Starts ``mor demo`` (Bangkok, generated into a temporary directory), signs in as a
demo patient, then loads each page of the booking path with a cold cache over a link
throttled to 400 kbit/s each way with 400 ms round trips (Chrome DevTools network
emulation), and prints the bytes transferred and the time until the page is usable:
its load event, and for the free times page its first time button on screen.

    .venv/bin/python bench/page_weight.py [--record]

Targets (issue 5): a usable booking page within 3 s, at most 200 KB before images.
Needs Debian's Chromium (scripts/install --test installs it).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import httpx
from playwright.async_api import Page, async_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fhir_crud import _commit, _free_port, _machine, publish

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
# 400 kbit/s in bytes per second, and the round trip, as the issue sets them.
THROUGHPUT = 400_000 / 8
LATENCY_MS = 400
PATIENT, PASSWORD = "patient.somchai", "demo-password-bkk"


@contextmanager
def demo_server() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="mor-page-bench-") as directory:
        port = _free_port()
        process = subprocess.Popen(
            [str(ROOT / ".venv" / "bin" / "mor"), "demo", "--port", str(port)],
            cwd=directory, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 300
            while True:
                try:
                    if httpx.get(base + "/book", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("mor demo did not start")
                time.sleep(0.5)
            yield base
        finally:
            process.terminate()
            process.wait(30)


async def load(page: Page, url: str, usable: str | None) -> tuple[int, float]:
    """Bytes over the wire and milliseconds until usable, for one cold load."""
    session = await page.context.new_cdp_session(page)
    await session.send("Network.enable")
    await session.send("Network.clearBrowserCache")
    await session.send("Network.emulateNetworkConditions", {
        "offline": False, "latency": LATENCY_MS, "downloadThroughput": THROUGHPUT,
        "uploadThroughput": THROUGHPUT})
    transferred: list[int] = []
    session.on("Network.loadingFinished",
               lambda event: transferred.append(int(event["encodedDataLength"])))
    started = time.perf_counter()
    await page.goto(url, wait_until="load")
    if usable:
        await page.locator(usable).first.wait_for(state="visible")
    elapsed = (time.perf_counter() - started) * 1000
    await session.send("Network.emulateNetworkConditions", {
        "offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})
    await session.detach()
    return sum(transferred), elapsed


async def measure(base: str) -> list[tuple[str, int, float]]:
    book = httpx.get(base + "/book").text
    centre = re.search(r'href="(/book/[^"/]+)"', book)
    assert centre is not None
    services = httpx.get(base + centre.group(1)).text
    service = re.search(rf'href="({re.escape(centre.group(1))}/[^"]+)"', services)
    assert service is not None
    rows = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path="/usr/bin/chromium",
                                                   args=CHROMIUM_ARGS)
        context = await browser.new_context(base_url=base, locale="th-TH",
                                            viewport={"width": 390, "height": 844})
        page = await context.new_page()
        await page.goto("/auth/login")
        await page.fill("[name=username]", PATIENT)
        await page.fill("[name=password]", PASSWORD)
        await page.keyboard.press("Enter")
        await page.wait_for_load_state()
        for label, path, usable in (
                ("start page", "/", None), ("choose a centre", "/book", None),
                ("choose a service", centre.group(1), None),
                ("free times (booking page)", service.group(1), "button[name=slot]"),
                ("my appointments", "/appointments", None)):
            size, elapsed = await load(page, path, usable)
            rows.append((label, size, elapsed))
        await browser.close()
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--record", action="store_true",
                        help="append the results to bench/RESULTS.md")
    args = parser.parse_args()
    with demo_server() as base:
        rows = asyncio.run(measure(base))
    table = ["| page | transferred | usable after |", "| --- | --- | --- |"]
    table += [f"| {label} | {size / 1024:.1f} KB | {elapsed / 1000:.2f} s |"
              for label, size, elapsed in rows]
    command = "python bench/page_weight.py " + " ".join(sys.argv[1:])
    section = "\n".join([
        f"\n## {datetime.now().astimezone():%Y-%m-%d %H:%M %Z}, mor {_commit()}: "
        "booking pages on a slow link",
        "", f"- machine: {_machine()}; server, database and browser share it",
        f"- command: `{command.strip()}`",
        "- link: 400 kbit/s each way, 400 ms round trip (DevTools emulation), cold cache; "
        "Chromium 390x844, Thai, signed in as a demo patient of `mor demo`",
        "- targets: usable within 3 s, at most 200 KB before images", "", *table, ""])
    publish(section, args.record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
