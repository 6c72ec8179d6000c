"""Benchmark: a video consultation's set-up time and call quality, in two Chromiums.

Each round a new patient of the centre joins the walk-in video queue and waits (device
check done); the doctor presses "Admit". Measured: from just before that click to the
first decoded video frame on each side (getStats() every 50 ms); then, over 10 s of the
call, each side's inbound audio and video loss, jitter and bitrate. Fake camera and
microphone; mor under uvicorn on 127.0.0.1, so no real network in between.

    .venv/bin/python bench/video_call.py [--backends sqlite,postgresql] [--rounds 10]
        [--record]

Target (issue 6): admit to first frame on both sides ≤ 2 s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from datetime import time as clock
from pathlib import Path
from typing import Any

import httpx
import pyotp
from playwright.async_api import Error, Page, async_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fhir_crud import _commit, _database, _free_port, _machine, publish

from mor.api.app import create_app
from mor.auth.accounts import Accounts
from mor.auth.callers import person_caller
from mor.auth.roles import Role
from mor.config import Settings
from mor.db.migrate import upgrade
from mor.fhir.visibility import EVERYTHING
from mor.services.scheduling.centres import CentreDetails, OpeningHours, save_centre
from mor.services.scheduling.codes import DAYS_OF_WEEK
from mor.services.staff import add_account

PASSWORD = "a benchmark password"
TALK_SECONDS = 10
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
]
# Each kind's inbound RTP stream, as this page's peer connection has received it.
INBOUND = """async () => {
  const pc = window.morCall && window.morCall.pc;
  if (!pc) return null;
  const got = {};
  (await pc.getStats()).forEach((r) => {
    if (r.type !== "inbound-rtp") return;
    got[r.kind] = { frames: r.framesDecoded || 0, lost: r.packetsLost || 0,
      received: r.packetsReceived || 0, jitter: r.jitter || 0,
      bytes: r.bytesReceived || 0, at: r.timestamp };
  });
  return got;
}"""


async def build(settings: Settings, rounds: int) -> tuple[str, list[str]]:
    """A centre with a doctor, and a patient registered there for each round (Patient
    .managingOrganization: what /appointments offers the walk-in queue of)."""
    app = create_app(settings)
    store = app.state.store
    admin = await person_caller(store, await Accounts(store.engine).add(
        "bench-admin", PASSWORD, Role.CENTRE_ADMIN))
    centre = await save_centre(store, admin, CentreDetails(
        names={"th": "ศูนย์บริการสาธารณสุข บางรัก", "en": "Bang Rak Health Centre"},
        districts={"th": "บางรัก", "en": "Bang Rak"}, address="", city="Bangkok",
        country="TH", language="th", hours=(OpeningHours(DAYS_OF_WEEK, clock(0),
                                                         clock(23, 59)),)))
    # A doctor of the centre; no roster: walk-ins wait for any of its clinicians.
    await add_account(store, "bench-doctor", PASSWORD, Role.DOCTOR, name="Dr Somchai",
                      organizations=(centre.id,))
    for number in range(rounds):
        async with store.writing(EVERYTHING) as tx:
            patient = await tx.create({
                "resourceType": "Patient",
                "name": [{"given": [f"Noy{number}"], "family": "Walkin"}],
                "managingOrganization": {"reference": f"Organization/{centre.id}"}})
        await Accounts(store.engine).add(f"patient-{number}", PASSWORD, Role.PATIENT,
                                         fhir_user=patient.reference, verified=True)
    await store.engine.dispose()
    return "bench-doctor", [f"patient-{number}" for number in range(rounds)]


def start_server(settings: Settings) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = {**os.environ, "MOR_DATABASE_URL": settings.database_url, "MOR_RATE_LIMIT": "0",
           "MOR_SECRET_KEY_FILE": str(settings.secret_key_file),
           "MOR_OUTBOX_DIR": str(settings.outbox_dir),
           "MOR_EXPORT_DIR": str(settings.export_dir)}
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "mor.api.app:create_app", "--factory",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"], env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/fhir/metadata", timeout=1).status_code == 200:
                return process, url
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline or process.poll() is not None:
            process.terminate()
            raise RuntimeError("mor did not start")
        time.sleep(0.1)


async def sign_in(page: Page, username: str, next_url: str, staff: bool) -> None:
    await page.goto("/auth/login?next=" + next_url)
    await page.fill("[name=username]", username)
    await page.fill("[name=password]", PASSWORD)
    await page.keyboard.press("Enter")
    if staff:  # the authenticator app, enrolled as at a first sign-in
        await page.wait_for_url("**/auth/totp**")
        secret = await page.locator("[name=secret]").input_value()
        await page.fill("[name=code]", pyotp.TOTP(secret).now())
        await page.locator("form [type=submit]").click()
    await page.wait_for_url(lambda url: url.split("?")[0].endswith(next_url))


async def inbound(page: Page) -> dict[str, Any] | None:
    try:
        return await page.evaluate(INBOUND)  # type: ignore[no-any-return]
    except Error:  # the page is navigating (the doctor's, just after Admit)
        return None


async def first_frame(page: Page, t0: float, within: float = 30) -> float:
    while time.perf_counter() - t0 < within:
        got = await inbound(page)
        if got and got.get("video", {}).get("frames", 0) > 0:
            return time.perf_counter() - t0
        await asyncio.sleep(0.05)
    raise RuntimeError(f"no video frame decoded on {page.url} in {within} s")


async def one_round(browser: Any, doctor: Page, url: str, username: str, number: int,
                    times: dict[str, list[float]], quality: dict[Any, list[Any]]) -> None:
    context = await browser.new_context(base_url=url, viewport={"width": 390, "height": 844})
    patient = await context.new_page()
    await sign_in(patient, username, "/appointments", staff=False)
    await patient.get_by_role("button", name="Join the video queue").click()
    await patient.wait_for_url("**/video/*")
    await patient.locator("[data-check=connection] span").filter(has_text="kbit/s").wait_for()
    await doctor.goto("/staff/video")
    admit = doctor.get_by_role("button", name=f"Admit Noy{number} Walkin")
    await admit.wait_for()
    t0 = time.perf_counter()
    await admit.click()
    seen = await asyncio.gather(first_frame(patient, t0), first_frame(doctor, t0))
    print(f"  round {number + 1}: first frame after {seen[0]:.2f} s (patient), "
          f"{seen[1]:.2f} s (doctor)", file=sys.stderr)
    times["patient"].append(seen[0])
    times["doctor"].append(seen[1])
    # Then the call goes on: loss over the whole call, jitter as getStats() has it at the
    # end, bitrate over the 10 s (the stats' own timestamps).
    sides = {"patient": patient, "doctor": doctor}
    before = {side: await inbound(page) or {} for side, page in sides.items()}
    await asyncio.sleep(TALK_SECONDS)
    for side, page in sides.items():
        for kind, end in (await inbound(page) or {}).items():
            start = before[side].get(kind, {"bytes": 0, "at": end["at"] - 1})
            total = end["lost"] + end["received"]
            quality.setdefault((side, kind), []).append((
                100 * end["lost"] / total if total else 0.0, end["jitter"] * 1000,
                (end["bytes"] - start["bytes"]) * 8 / max(end["at"] - start["at"], 1)))
    await doctor.get_by_role("button", name="Hang up and end the consultation").click()
    await patient.locator("#ended").wait_for()
    await context.close()


async def run(url: str, doctor_name: str, patients: list[str]
              ) -> tuple[dict[str, list[float]], dict[Any, list[Any]]]:
    times: dict[str, list[float]] = {"patient": [], "doctor": []}
    quality: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path="/usr/bin/chromium",
                                                   args=CHROMIUM_ARGS)
        context = await browser.new_context(base_url=url,
                                            viewport={"width": 1280, "height": 800})
        context.set_default_timeout(15_000)
        doctor = await context.new_page()
        await sign_in(doctor, doctor_name, "/staff/video", staff=True)
        for number, username in enumerate(patients):
            await one_round(browser, doctor, url, username, number, times, quality)
        await browser.close()
    return times, quality


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def measure(backend: str, rounds: int) -> tuple[list[str], list[str]]:
    with _database(backend) as database_url, tempfile.TemporaryDirectory() as scratch:
        upgrade(database_url)
        settings = Settings(database_url=database_url, rate_limit_per_minute=0,
                            secret_key_file=Path(scratch) / "secret.key",
                            outbox_dir=Path(scratch) / "outbox",
                            export_dir=Path(scratch) / "exports")
        doctor, patients = asyncio.run(build(settings, rounds))
        process, url = start_server(settings)
        try:
            times, quality = asyncio.run(run(url, doctor, patients))
        finally:
            process.terminate()
            process.wait(timeout=30)
    first = [f"| {backend}: admit to first frame, {side} | {percentile(values, 0.5):.2f} s"
             f" | {percentile(values, 0.95):.2f} s | {max(values):.2f} s |"
             for side, values in times.items()]
    means = {key: [statistics.mean(column) for column in zip(*rows, strict=True)]
             for key, rows in sorted(quality.items())}
    heard = [f"| {backend}: {side} receives {kind} | {loss:.2f} % | {jitter:.1f} ms | "
             f"{rate:.0f} kbit/s |" for (side, kind), (loss, jitter, rate) in means.items()]
    return first, heard


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="sqlite")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--record", action="store_true",
                        help="append the results to bench/RESULTS.md")
    args = parser.parse_args()
    first = ["| measure | p50 | p95 | max |", "| --- | --- | --- | --- |"]
    heard = [f"| inbound after {TALK_SECONDS} s (mean of rounds) | packet loss | jitter | "
             "bitrate |", "| --- | --- | --- | --- |"]
    for backend in args.backends.split(","):
        times, quality = measure(backend, args.rounds)
        first += times
        heard += quality
    command = "python bench/video_call.py " + " ".join(sys.argv[1:])
    section = "\n".join([
        f"\n## {datetime.now().astimezone():%Y-%m-%d %H:%M %Z}, mor {_commit()}: video call",
        "", f"- machine: {_machine()}; server, database and both browsers share it",
        f"- command: `{command.strip()}`",
        f"- measured: {args.rounds} walk-in consults in two headless Chromiums (fake camera "
        "and microphone, over 127.0.0.1): the time from the doctor's click on Admit to the "
        "first decoded video frame on each side (getStats() every 50 ms); then each "
        f"side's inbound packet loss, jitter and bitrate over {TALK_SECONDS} s of the call",
        "- target: admit to first frame ≤ 2 s on both sides", "", *first, "", *heard, ""])
    publish(section, args.record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
