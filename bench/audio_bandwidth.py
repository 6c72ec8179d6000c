"""Benchmark: the lowest bandwidth at which a video consultation's sound stays usable.

The patient's phone is on a mobile link to the city: mor and the doctor's headless
Chromium run in one network namespace, the patient's Chromium in another, joined by a
virtual cable (tests/e2e/netns.py PhoneLink) whose phone end is limited step by step,
upload and download alike, with ``tbf`` queues (100 ms of queue, like a weak mobile
link). At each rate the call is left to settle (it goes to sound only by itself below
about 150 kbit/s), then each side's inbound sound is measured for a while from
getStats(): packet loss, jitter, the share of samples the receiver had to conceal (made
up for lost or late packets), and the sound's bitrate. Fake camera and microphone.

    sudo .venv/bin/python bench/audio_bandwidth.py [--rates 100,64,48,32,24,16]
        [--settle 12] [--window 30] [--record]

Target (issue 6): sound-only stays intelligible at ≤ 100 kbit/s, taken here as at most
5 % of the sound concealed on both sides.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))
from fhir_crud import _commit, _machine, publish
from video_call import CHROMIUM_ARGS, build, sign_in

from mor.config import Settings
from mor.db.migrate import upgrade
from tests.conftest import running_mor
from tests.e2e.netns import PhoneLink

INTELLIGIBLE_CONCEALED_PERCENT = 5.0
# Each side's inbound sound, cumulative since the call began.
SOUND = """async () => {
  const pc = window.morCall && window.morCall.pc;
  if (!pc || pc.connectionState !== "connected") return null;
  let got = null;
  (await pc.getStats()).forEach((r) => {
    if (r.type !== "inbound-rtp" || r.kind !== "audio") return;
    got = { lost: r.packetsLost || 0, received: r.packetsReceived || 0,
      jitter: r.jitter || 0, concealed: r.concealedSamples || 0,
      samples: r.totalSamplesReceived || 0, bytes: r.bytesReceived || 0, at: r.timestamp };
  });
  return got;
}"""


async def sound(page: Any, within: float = 60) -> dict[str, float]:
    """The inbound sound so far, once the call is connected (it may be reconnecting)."""
    for _ in range(int(within * 2)):
        got: dict[str, float] | None = await page.evaluate(SOUND)
        if got is not None:
            return got
        await asyncio.sleep(0.5)
    raise RuntimeError(f"the call on {page.url} is not connected after {within} s: "
                       f"{await page.evaluate('window.morCall.status')!r}")


async def connected(page: Any, within: float = 30) -> None:
    # Polled: mor's Content-Security-Policy refuses wait_for_function's string eval.
    for _ in range(int(within * 4)):
        if await page.evaluate("window.morCall && window.morCall.pc ? "
                               "window.morCall.pc.connectionState : null") == "connected":
            return
        await asyncio.sleep(0.25)
    raise RuntimeError(f"the call on {page.url} did not connect in {within} s")


def difference(start: dict[str, float], end: dict[str, float]) -> dict[str, float]:
    packets = (end["lost"] - start["lost"]) + (end["received"] - start["received"])
    samples = end["samples"] - start["samples"]
    return {
        "loss": 100 * (end["lost"] - start["lost"]) / packets if packets else 100.0,
        "concealed": 100 * (end["concealed"] - start["concealed"]) / samples
        if samples else 100.0,
        "jitter": end["jitter"] * 1000,
        "kbit": (end["bytes"] - start["bytes"]) * 8 / max(end["at"] - start["at"], 1),
    }


async def measure(url: str, link: PhoneLink, folder: Path, doctor_name: str,
                  patient_name: str, rates: list[int], settle: float, window: float
                  ) -> list[str]:
    from playwright.async_api import async_playwright

    rows = []
    # getUserMedia needs a secure origin: mor on http://10.77.0.1 counts as one here.
    args = [*CHROMIUM_ARGS, f"--unsafely-treat-insecure-origin-as-secure={url}"]
    async with async_playwright() as playwright:
        in_city = await playwright.chromium.launch(
            executable_path=str(link.city.chromium(folder)), args=args)
        on_phone = await playwright.chromium.launch(
            executable_path=str(link.phone.chromium(folder)), args=args)
        doctor = await (await in_city.new_context(base_url=url)).new_page()
        patient = await (await on_phone.new_context(base_url=url)).new_page()
        await sign_in(doctor, doctor_name, "/staff/video", staff=True)
        await sign_in(patient, patient_name, "/appointments", staff=False)
        await patient.get_by_role("button", name="Join the video queue").click()
        await patient.wait_for_url("**/video/*")
        await doctor.goto("/staff/video")
        await doctor.locator("main button", has_text="Admit").first.click()
        await doctor.wait_for_url("**/video/*")
        sides = {"patient": patient, "doctor": doctor}
        for side in sides.values():
            await connected(side)
        # First a weak link, as a call meets it: at 300 kbit/s the call goes to sound only
        # (the test tests/e2e/test_video_weak_network.py shows it), then narrower.
        link.limit_to(up=300, down=300)
        for _ in range(60):
            flags = [await page.evaluate("window.morCall.sendingVideo")
                     for page in sides.values()]
            if not any(flags):
                break
            await asyncio.sleep(1)
        for rate in rates:
            link.limit_to(up=rate, down=rate)
            await asyncio.sleep(settle)
            start = {name: await sound(page) for name, page in sides.items()}
            video = {name: False for name in sides}
            dropped = {name: 0 for name in sides}
            for _ in range(int(window)):
                await asyncio.sleep(1)
                for name, page in sides.items():
                    video[name] |= await page.evaluate(
                        "window.morCall.sendingVideo || window.morCall.tryingVideo")
                    dropped[name] += await page.evaluate(
                        "window.morCall.pc.connectionState !== 'connected'")
            for name, page in sides.items():
                got = difference(start[name], await sound(page))
                usable = "yes" if got["concealed"] <= INTELLIGIBLE_CONCEALED_PERCENT else "no"
                other = "doctor" if name == "patient" else "patient"
                print(f"  {rate} kbit/s, {name} hears: {got}", file=sys.stderr)
                rows.append(f"| {rate} | {name} | {got['loss']:.1f} % | {got['concealed']:.1f} % "
                            f"| {got['jitter']:.0f} ms | {got['kbit']:.0f} kbit/s | "
                            f"{'yes' if video[other] else 'no'} | {dropped[name]} s "
                            f"| {usable} |")
        await in_city.close()
        await on_phone.close()
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="100,64,48,32,24,16",
                        help="the phone's link in kbit/s, each way, in this order")
    parser.add_argument("--settle", type=float, default=12,
                        help="seconds at each rate before measuring")
    parser.add_argument("--window", type=float, default=30, help="seconds measured per rate")
    parser.add_argument("--record", action="store_true",
                        help="append the results to bench/RESULTS.md")
    args = parser.parse_args()
    rates = [int(rate) for rate in args.rates.split(",")]
    with tempfile.TemporaryDirectory() as scratch, PhoneLink() as link:
        folder = Path(scratch)
        database_url = f"sqlite:///{folder / 'mor.db'}"
        upgrade(database_url)
        settings = Settings(database_url=database_url, rate_limit_per_minute=0,
                            secret_key_file=folder / "secret.key",
                            outbox_dir=folder / "outbox", export_dir=folder / "exports")
        doctor, patients = asyncio.run(build(settings, 1))
        with running_mor(settings, inside=link.city.command,
                         host=PhoneLink.CITY_ADDRESS) as base:
            rows = asyncio.run(measure(base.removesuffix("/fhir"), link, folder, doctor,
                                       patients[0], rates, args.settle, args.window))
    command = "sudo .venv/bin/python bench/audio_bandwidth.py " + " ".join(sys.argv[1:])
    section = "\n".join([
        f"\n## {datetime.now().astimezone():%Y-%m-%d %H:%M %Z}, mor {_commit()}: "
        "sound-only call on a narrow link",
        "", f"- machine: {_machine()}; server and both browsers share it, SQLite",
        f"- command: `{command.strip()}`",
        "- measured: one call in two headless Chromiums (fake camera; the fake microphone "
        "beeps): mor and the doctor in one network namespace, the patient's phone in "
        "another, joined by a veth pair whose two ends are limited with "
        "`tc qdisc ... tbf rate <R>kbit burst 16kb latency 100ms`: the phone's upload and "
        "download, R each way; the doctor's side is otherwise unlimited. At each rate, "
        f"{args.settle:.0f} s to settle, then "
        f"{args.window:.0f} s of each side's inbound sound from getStats(): packets lost, "
        "samples concealed (concealedSamples / totalSamplesReceived), jitter at the end, "
        "sound bitrate; and whether the other side sent video at any moment of the window "
        "(the call tries video again now and then)",
        f"- target: sound stays intelligible at ≤ 100 kbit/s: here, ≤ "
        f"{INTELLIGIBLE_CONCEALED_PERCENT:.0f} % of samples concealed on both sides", "",
        "| phone link (kbit/s each way) | who hears | packet loss | concealed | jitter "
        "| sound bitrate | other side sent video | not connected | intelligible |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |", *rows, ""])
    publish(section, args.record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
