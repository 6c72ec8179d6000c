"""``mor demo``: a generated demo city, as a person trying mor finds it: centres in the
city's real districts and language, an account for every role, free slots to book, a
year of past appointments, chronic patients, valid Thai IDs; generated once, reused after.

Each city is generated once per module on its own database (SQLite, and Vientiane also
on PostgreSQL): the suite's shared database holds other tests' centres and accounts, which
the demo rightly refuses to mix with.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import make_url

from mor.auth.accounts import Accounts
from mor.auth.callers import person_caller
from mor.auth.identifiers import thai_id_is_valid
from mor.auth.roles import Role
from mor.cli_demo import demo_environment
from mor.config import Settings
from mor.db.engine import create_engine
from mor.db.migrate import upgrade
from mor.fhir.store import Store
from mor.fhir.visibility import EVERYTHING
from mor.services.demo.cities import CITIES, City
from mor.services.demo.generate import (
    ICD10,
    DemoError,
    DemoSummary,
    demo_accounts,
    generate_demo,
    has_demo_data,
)
from mor.services.monitoring.plans import active_plan
from mor.services.monitoring.worklist import worklist
from mor.services.pharmacy.queue import pharmacy_queue
from mor.services.records.hospitals import hospitals
from mor.services.records.visit_summary import signed_visits, visit_summary
from mor.services.scheduling.booking import free_times
from mor.services.scheduling.centres import all_centres
from mor.services.scheduling.lookup import MOST, find
from mor.services.scheduling.offered import services_of
from mor.services.scheduling.rosters import roster_of
from tests.conftest import POSTGRES_URL, _admin

# PostgreSQL with the smaller city: the same code, and a quarter of a minute less.
CASES = [("sqlite", "bangkok"), ("sqlite", "vientiane"), ("postgresql", "vientiane")]
# Roughly where each city is: every centre must be inside.
AREAS = {"bangkok": ((13.5, 14.0), (100.3, 101.0)),
         "vientiane": ((17.8, 18.3), (102.4, 103.0))}
PASSPORT = "http://hl7.org/fhir/sid/passport-"


@dataclass(frozen=True, slots=True)
class Demo:
    city: City
    store: Store
    summary: DemoSummary


@pytest.fixture(scope="module", params=CASES, ids=[f"{b}-{c}" for b, c in CASES])
def demo_database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
                  ) -> Iterator[tuple[str, City]]:
    backend, city = request.param
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('demo') / 'demo.db'}"
        upgrade(url)
        yield url, CITIES[city]
        return
    name = f"mor_demo_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(POSTGRES_URL, f'CREATE DATABASE "{name}"'))
    url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        yield url, CITIES[city]
    finally:
        asyncio.run(_admin(POSTGRES_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="module")
async def demo(demo_database: tuple[str, City]) -> AsyncIterator[Demo]:
    url, city = demo_database
    engine = create_engine(Settings(database_url=url))
    summary = await generate_demo(Store(engine), city)
    assert summary is not None
    yield Demo(city, Store(engine), summary)
    await engine.dispose()


async def search(demo: Demo, resource_type: str, params: list[tuple[str, str]]
                 ) -> list[dict[str, Any]]:
    async with demo.store.reading(EVERYTHING) as tx:
        return await find(tx, resource_type, params, limit=MOST)


def now(demo: Demo) -> datetime:
    return datetime.now(demo.city.zone)


async def test_generation_is_quick(demo: Demo) -> None:
    assert demo.summary.seconds < 60
    assert demo.summary.centres == len(demo.city.centres)
    assert demo.summary.patients == demo.city.patients


async def test_the_centres_are_in_the_citys_real_districts_in_its_language(
        demo: Demo) -> None:
    city = demo.city
    centres = await all_centres(demo.store)
    assert sorted(c.district("en") for c in centres) == sorted(
        p.districts["en"] for p in city.centres)
    (south, north), (west, east) = AREAS[city.slug]
    for centre in centres:
        details = centre.details
        assert (details.language, details.country, details.city) == (
            city.language, city.country, city.address_city)
        local = centre.name(city.language)
        assert local.startswith("ศูนย์บริการสาธารณสุข " if city.slug == "bangkok"
                                else "ສຸກສາລາ ")
        assert local.endswith(centre.district(city.language))
        assert centre.name("en") == f"{centre.district('en')} Health Centre"
        assert details.latitude is not None and south < details.latitude < north
        assert details.longitude is not None and west < details.longitude < east
        assert details.hours[0].days == ("mon", "tue", "wed", "thu", "fri")
        assert (details.hours[0].opens.hour, details.hours[0].closes.hour) == (8, 16)
        kinds = [s.kind for s in await services_of(demo.store, centre.id)]
        assert kinds[0] == "general-practice" and 3 <= len(kinds) <= 5


async def test_the_city_has_hospitals_to_refer_to_named_in_its_language(
        demo: Demo) -> None:
    local = await hospitals(demo.store, demo.city.language)
    english = await hospitals(demo.store, "en")
    expected = "Vajira Hospital" if demo.city.slug == "bangkok" else "Mahosot Hospital"
    assert expected in [h.name for h in english]
    assert len(local) == len(english) == len(demo.city.hospitals)
    assert {h.name for h in local} == {n[demo.city.language] for n in demo.city.hospitals}


async def test_yesterdays_visit_is_signed_and_its_prescription_waits_for_the_pharmacist(
        demo: Demo) -> None:
    featured = demo.city.featured[0]
    accounts = Accounts(demo.store.engine)
    patient_account = await accounts.find(featured.username)
    pharmacist_account = await accounts.find(f"pharmacist.{featured.centre}")
    assert patient_account is not None and pharmacist_account is not None
    patient = await person_caller(demo.store, patient_account)
    [visit] = await signed_visits(demo.store, patient, patient_account.fhir_user_id or "")
    summary = await visit_summary(demo.store, patient, visit.encounter_id,
                                  demo.city.language)
    assert [code for code, _ in summary.diagnoses] == ["I10"]
    assert summary.advice and not summary.prescription_checked
    assert summary.medicines[0].name.startswith(
        "แอมโลดิปีน" if demo.city.slug == "bangkok" else "ອາມໂລດິປີນ")
    assert len(summary.documents) == 1  # the prescription, as PDF
    pharmacist = await person_caller(demo.store, pharmacist_account)
    assert pharmacist.account is not None
    queue = await pharmacy_queue(demo.store, pharmacist, pharmacist.account.organizations[0])
    assert [p.patient_id for p in queue.to_check] == [patient_account.fhir_user_id]


async def test_the_nurse_finds_the_featured_patient_s_crisis_first_on_the_worklist(
        demo: Demo) -> None:
    featured = demo.city.featured[0]
    accounts = Accounts(demo.store.engine)
    patient_account = await accounts.find(featured.username)
    nurse_account = await accounts.find(f"nurse.{featured.centre}")
    assert patient_account is not None and nurse_account is not None
    nurse = await person_caller(demo.store, nurse_account)
    assert nurse.account is not None
    centre_id = nurse.account.organizations[0]
    listed = await worklist(demo.store, nurse, centre_id, now=now(demo))
    first = listed.rows[0]
    assert first.patient_id == patient_account.fhir_user_id
    assert first.first.rule == "bp-urgent" and len(first.trend) >= 10
    assert demo.summary.followed_from_home >= 5
    patient = await person_caller(demo.store, patient_account)
    plan = await active_plan(demo.store, patient, patient_account.fhir_user_id or "")
    assert plan is not None and plan.centre_id == centre_id
    # Not everyone is on the worklist: some are within their targets.
    assert len(listed.rows) < demo.summary.followed_from_home


async def test_every_role_has_an_account_that_signs_in_with_the_demo_password(
        demo: Demo) -> None:
    accounts = Accounts(demo.store.engine)
    listed = demo_accounts(demo.city)
    for account in listed:
        assert await accounts.find(account.username) is not None, account.username
    first_of_role = {a.role: a for a in reversed(listed)}
    assert set(first_of_role) == set(Role)
    for role, account in first_of_role.items():
        signed_in = await accounts.sign_in(account.username, account.password)
        assert signed_in.role is role
    assert {"city.admin", f"doctor.{demo.city.centres[0].slug}",
            f"nurse.{demo.city.centres[0].slug}"} <= {a.username for a in listed}


async def test_every_clinician_is_rostered_and_never_in_two_clinics_at_once(
        demo: Demo) -> None:
    plans = {p.names["en"]: p for p in demo.city.centres}
    for centre in await all_centres(demo.store):
        shifts: dict[str, list[tuple[str, int, int]]] = {}
        for entry in await roster_of(demo.store, centre.id):
            shifts.setdefault(entry.practitioner_id, []).extend(
                (day, s.start.hour * 60 + s.start.minute, s.end.hour * 60 + s.end.minute)
                for s in entry.shifts for day in s.days)
        for worked in shifts.values():
            for n, (day, start, end) in enumerate(worked):
                assert not any(d == day and s < end and start < e for d, s, e in worked[n + 1:])
        plan = plans[centre.name("en")]
        assert len(shifts) == plan.doctors + plan.nurses
        assert 2 <= len(shifts) <= 4


async def test_every_centres_general_practice_has_free_slots_in_the_coming_week(
        demo: Demo) -> None:
    start = now(demo)
    for centre in await all_centres(demo.store):
        practice = next(s for s in await services_of(demo.store, centre.id)
                        if s.kind == "general-practice")
        assert practice.slot_minutes == 15
        times = await free_times(demo.store, practice.id, start, start + timedelta(days=7))
        assert len(times) >= 20, centre.name("en")
    assert demo.summary.free_slots > 1000


async def test_a_year_of_past_appointments_attended_missed_or_cancelled(demo: Demo) -> None:
    past = await search(demo, "Appointment", [("date", f"lt{now(demo).isoformat()}")])
    statuses = [a["status"] for a in past]
    assert {"fulfilled", "noshow", "cancelled"} <= set(statuses)
    assert statuses.count("fulfilled") > len(past) * 0.7
    starts = sorted(datetime.fromisoformat(a["start"]) for a in past)
    assert starts[0] < now(demo) - timedelta(days=300)
    assert starts[0] > now(demo) - timedelta(days=367)
    assert len(past) >= 100
    # Each on a Slot of the centre's schedule: busy, or freed again by the cancelling.
    slot_ids = [a["slot"][0]["reference"].removeprefix("Slot/") for a in past]
    slots = {s["id"]: s for s in await search(demo, "Slot", [("_id", ",".join(slot_ids))])}
    for appointment, slot_id in zip(past, slot_ids, strict=True):
        slot = slots[slot_id]
        assert slot["start"] == appointment["start"]
        assert slot["status"] == ("free" if appointment["status"] == "cancelled" else "busy")


async def test_past_appointments_look_like_those_booking_makes(demo: Demo) -> None:
    moment = now(demo).isoformat()
    booked = await search(demo, "Appointment", [("status", "booked"), ("date", f"ge{moment}")])
    past = await search(demo, "Appointment", [("status", "fulfilled"), ("date", f"lt{moment}")])
    assert booked and past
    assert set(booked[0]) == set(past[0])
    assert [p["actor"]["reference"].split("/")[0] for p in booked[0]["participant"]] == [
        p["actor"]["reference"].split("/")[0] for p in past[0]["participant"]]
    busy = await search(demo, "Slot", [("_id", past[0]["slot"][0]["reference"][5:])])
    free = await search(demo, "Slot", [("status", "free"), ("start", f"ge{moment}")])
    assert set(busy[0]) == set(free[0])


async def test_a_third_of_patients_have_chronic_conditions_coded_in_icd10(demo: Demo) -> None:
    patients = await search(demo, "Patient", [])
    conditions = await search(demo, "Condition", [])
    assert len(patients) == demo.city.patients
    codes = {c["code"]["coding"][0]["code"] for c in conditions}
    assert {"I10", "E11"} <= codes <= {"I10", "E11", "E78"}
    assert all(c["code"]["coding"][0]["system"] == ICD10 for c in conditions)
    assert all(c["clinicalStatus"]["coding"][0]["code"] == "active" for c in conditions)
    chronic = {c["subject"]["reference"] for c in conditions}
    assert 0.25 <= len(chronic) / len(patients) <= 0.4


async def test_patients_carry_valid_identity_documents_and_belong_to_a_centre(
        demo: Demo) -> None:
    centres = {f"Organization/{c.id}" for c in await all_centres(demo.store)}
    card = f"urn:mor:sid:{demo.city.identity_card}"
    cards, passports = [], []
    for patient in await search(demo, "Patient", []):
        document = patient["identifier"][0]
        (cards if document["system"] == card else passports).append(document)
        assert patient["managingOrganization"]["reference"] in centres
        assert patient["gender"] in ("male", "female") and patient["birthDate"]
    assert all(p["system"].startswith(PASSPORT) for p in passports)
    assert len(passports) >= 3 and len(cards) >= 30
    if demo.city.slug == "bangkok":
        assert all(thai_id_is_valid(c["value"]) for c in cards)
        assert f"{PASSPORT}LAO" in {p["system"] for p in passports}


async def test_featured_patients_have_their_next_follow_up_booked(demo: Demo) -> None:
    accounts = Accounts(demo.store.engine)
    for featured in demo.city.featured:
        account = await accounts.find(featured.username)
        assert account is not None and account.verified is featured.verified
        booked = await search(demo, "Appointment", [
            ("actor", account.fhir_user or ""), ("status", "booked")])
        if featured.conditions:
            assert booked, featured.username


# Each city's people as generated first, to compare the next generation with.
_PEOPLE: dict[str, list[tuple[str, ...]]] = {}


async def test_the_same_city_always_gets_the_same_people(demo: Demo) -> None:
    """Vientiane is generated twice here, on SQLite and on PostgreSQL: the same names,
    birth dates, documents and conditions both times."""
    conditions: dict[str, list[str]] = {}
    for condition in await search(demo, "Condition", []):
        conditions.setdefault(condition["subject"]["reference"], []).append(
            condition["code"]["coding"][0]["code"])
    people = sorted(
        (p["name"][0]["family"], *p["name"][0]["given"], p["birthDate"], p["gender"],
         p["identifier"][0]["value"], p["id"],
         *sorted(conditions.get(f"Patient/{p['id']}", ())))
        for p in await search(demo, "Patient", []))
    assert _PEOPLE.setdefault(demo.city.slug, people) == people


async def test_generating_again_duplicates_nothing(demo: Demo) -> None:
    async with demo.store.reading(EVERYTHING) as tx:
        before = await tx.count_current()
    accounts = len(await Accounts(demo.store.engine).all())
    assert await has_demo_data(demo.store, demo.city)
    assert await generate_demo(demo.store, demo.city) is None
    async with demo.store.reading(EVERYTHING) as tx:
        assert await tx.count_current() == before
    assert len(await Accounts(demo.store.engine).all()) == accounts


async def test_the_other_citys_demo_is_not_put_in_the_same_database(demo: Demo) -> None:
    other = next(c for c in CITIES.values() if c is not demo.city)
    assert not await has_demo_data(demo.store, other)
    with pytest.raises(DemoError, match=f"holds the {demo.city.slug} demo"):
        await generate_demo(demo.store, other)


def test_each_city_runs_as_an_instance_of_its_own(tmp_path: Path) -> None:
    settings = {}
    for city in CITIES.values():
        env = demo_environment(city, city.database_url, Path("mor-data") / f"demo-{city.slug}")
        settings[city.slug] = Settings.from_env(env)
    bangkok, vientiane = settings["bangkok"], settings["vientiane"]
    assert (bangkok.time_zone, bangkok.emergency_number, bangkok.language) == (
        "Asia/Bangkok", "1669", "th")
    assert (vientiane.time_zone, vientiane.emergency_number, vientiane.language) == (
        "Asia/Vientiane", "1195", "lo")
    assert bangkok.database_url == "sqlite:///./mor-data/demo-bangkok.db"
    assert vientiane.database_url == "sqlite:///./mor-data/demo-vientiane.db"
    for name in ("outbox_dir", "export_dir", "secret_key_file"):
        assert getattr(bangkok, name) != getattr(vientiane, name)
    assert (CITIES["bangkok"].port, CITIES["vientiane"].port) == (8000, 8001)


# -- the command, as a newcomer runs it ------------------------------------------------


def _mor() -> str:
    return str(Path(sys.executable).parent / "mor")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start(cwd: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOR_")}
    with log.open("wb") as out:
        return subprocess.Popen([_mor(), "demo", "--port", str(port)], cwd=cwd, env=env,
                                stdout=out, stderr=subprocess.STDOUT)


def _wait_until_serving(process: subprocess.Popen[bytes], base: str, log: Path) -> None:
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"{base}/about.json", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline or process.poll() is not None:
            raise AssertionError(f"mor demo did not start:\n{log.read_text()}")
        time.sleep(0.2)


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def test_mor_demo_starts_bangkok_in_thai_and_reuses_its_data(tmp_path: Path) -> None:
    port, log = _free_port(), tmp_path / "first.log"
    base = f"http://127.0.0.1:{port}"
    process = _start(tmp_path, port, log)
    try:
        _wait_until_serving(process, base, log)
        home = httpx.get(f"{base}/", timeout=10)
        booking = httpx.get(f"{base}/book", timeout=10)
    finally:
        _stop(process)
    assert home.status_code == booking.status_code == 200
    assert booking.headers["content-type"].startswith("text/html")
    assert '<html lang="th">' in booking.text
    for plan in CITIES["bangkok"].centres:
        assert plan.names["th"] in booking.text
    assert "tel:1669" in home.text
    printed = log.read_text()
    for expected in ("city.admin", "doctor.bangrak", "nurse.bangrak", "admin.bangrak",
                     "pharmacist.bangrak", "patient.somchai", "demo-password-bkk",
                     "authenticator app", f"{base}/"):
        assert expected in printed
    assert (tmp_path / "mor-data" / "demo-bangkok.db").exists()
    assert not (tmp_path / "mor-data" / "mor.db").exists()  # not mor serve's database

    again_log = tmp_path / "again.log"
    process = _start(tmp_path, port, again_log)
    try:
        _wait_until_serving(process, base, again_log)
    finally:
        _stop(process)
    assert "generated earlier" in again_log.read_text()


def test_mor_demo_refuses_a_database_holding_other_data(tmp_path: Path) -> None:
    other = tmp_path / "city.db"
    patient = tmp_path / "patient.json"
    patient.write_text('{"resourceType": "Patient", "id": "real-1"}')
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("MOR_")},
           "MOR_DATABASE_URL": f"sqlite:///{other}"}
    subprocess.run([_mor(), "import", str(patient)], cwd=tmp_path, env=env, check=True,
                   capture_output=True)
    for extra in ([], ["--reset"]):
        ran = subprocess.run([_mor(), "demo", "--database-url", f"sqlite:///{other}", *extra],
                             cwd=tmp_path, env=env, capture_output=True, text=True,
                             timeout=120)
        assert ran.returncode == 1, ran.stdout
        assert "not a demo's" in " ".join(ran.stdout.split())
        assert other.exists()
