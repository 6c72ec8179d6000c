"""Generating a demo city: health centres with services, staff and rosters, the free
slots of the coming four weeks, patients (a third with chronic conditions), a year of
past appointments and some booked ahead.

What a person makes through mor is made through its services, as the person who would
have made it: the city administrator opens the centres; each centre's administrator adds
its services, staff and rosters; patients book their coming appointments. What no
service writes is inserted directly, in bulk, shaped as mor shapes it: the patients and
their conditions (registered at the centre's desk, diagnosed in earlier visits), and the
past year's slots and appointments (which booking could only have made a year ago).

The same city always gets the same people, centres and history (``random.Random``
seeded with the city), with dates counted back from today. A ``Basic`` resource marks
the database as a demo's: written first, and stamped when generation finished, so an
interrupted generation is told apart from a finished one.
"""

from __future__ import annotations

import random
import time as clock
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

from mor.auth.accounts import Accounts
from mor.auth.callers import person_caller
from mor.auth.identifiers import identifier
from mor.auth.passwords import check_password_strength, hash_secret
from mor.auth.policy import Principal
from mor.auth.roles import Role
from mor.db.statistics import refresh_statistics
from mor.fhir.search.compiler import compile_search
from mor.fhir.store import NewResource, Store, prepare_new
from mor.fhir.visibility import EVERYTHING
from mor.services.demo.cities import (
    DIABETES,
    GP,
    HOME,
    HYPERTENSION,
    MENTAL,
    SKIN,
    TB,
    CentrePlan,
    City,
    Featured,
    Foreigner,
    Name,
)
from mor.services.demo.monitoring import OTHERS_PER_CENTRE, Followed, follow_from_home, stories
from mor.services.demo.visits import signed_visit
from mor.services.records.hospitals import hospital_resource

# The one way mor refreshes PostgreSQL's statistics after a bulk load (private there).
from mor.services.scheduling.booking import BookingRefused, book, free_times
from mor.services.scheduling.centres import (
    Centre,
    CentreDetails,
    OpeningHours,
    all_centres,
    save_centre,
)
from mor.services.scheduling.codes import DAYS_OF_WEEK, MOR_FHIR
from mor.services.scheduling.lookup import find
from mor.services.scheduling.offered import Service, save_service
from mor.services.scheduling.rosters import RosterEntry, Shift, save_roster_entry
from mor.services.scheduling.slots import PlannedSlot, planned_slots, refresh_centre, refresh_slots
from mor.services.staff import add_account

DEMO_CODES: Final = f"{MOR_FHIR}/CodeSystem/demo"
GENERATED_URL: Final = f"{MOR_FHIR}/StructureDefinition/demo-generated"
ICD10: Final = "http://hl7.org/fhir/sid/icd-10"
_CLINICAL: Final = "http://terminology.hl7.org/CodeSystem/condition-clinical"
_VERIFICATION: Final = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
_CATEGORY: Final = "http://terminology.hl7.org/CodeSystem/condition-category"
_CANCELLATION: Final = "http://terminology.hl7.org/CodeSystem/appointment-cancellation-reason"
_BCP47: Final = "urn:ietf:bcp:47"

# The chronic conditions demo patients have (ICD-10, WHO titles), and the clinic each
# is followed up at where the centre runs one (else general practice).
CONDITIONS: Final = {"I10": "Essential (primary) hypertension",
                     "E11": "Type 2 diabetes mellitus",
                     "E78": "Disorders of lipoprotein metabolism and other lipidaemias"}
_FOLLOW_UP: Final = (("E11", DIABETES), ("I10", HYPERTENSION), ("E78", HYPERTENSION))
# Passports by issuing country: the letters their numbers start with (seven digits
# follow), and the language their holder's pages and messages are best in.
_PASSPORTS: Final = {"LAO": ("P", "lo"), "THA": ("AA", "th"), "MMR": ("MC", "my"),
                     "KHM": ("N", "km"), "VNM": ("C", "vi"), "CHN": ("E", "zh")}
_HISTORY_DAYS: Final = 365
_WEEKDAYS: Final = DAYS_OF_WEEK[:5]


@dataclass(frozen=True, slots=True)
class Clinic:
    """How every demo centre runs a kind of service: who, how long a slot, when."""

    role: Role
    slot_minutes: int
    shifts: tuple[Shift, ...]


# General practice in the mornings; the other clinics on afternoons (or mornings for
# tuberculosis) on different days, so whoever runs several is never in two at once.
CLINICS: Final = {
    GP: Clinic(Role.DOCTOR, 15, (Shift(_WEEKDAYS, time(8, 30), time(12)),)),
    HYPERTENSION: Clinic(Role.NURSE, 20, (Shift(("tue", "thu"), time(13), time(16)),)),
    DIABETES: Clinic(Role.DOCTOR, 30, (Shift(("wed",), time(13), time(16)),)),
    MENTAL: Clinic(Role.DOCTOR, 30, (Shift(("fri",), time(13), time(16)),)),
    SKIN: Clinic(Role.DOCTOR, 20, (Shift(("mon",), time(13), time(15)),)),
    TB: Clinic(Role.NURSE, 20, (Shift(("mon", "wed"), time(8, 30), time(11, 30)),)),
    HOME: Clinic(Role.NURSE, 60, (Shift(("fri",), time(13), time(16)),)),
}
_SATURDAY_GP: Final = Shift(("sat",), time(8, 30), time(11, 30))
_WEEKDAY_HOURS: Final = OpeningHours(_WEEKDAYS, time(8), time(16))
_SATURDAY_HOURS: Final = OpeningHours(("sat",), time(8), time(12))


@dataclass(frozen=True, slots=True)
class DemoAccount:
    """An account to sign in to the demo with."""

    username: str
    role: Role
    password: str
    centre: str = ""  # the CentrePlan slug, for staff of one centre and patients
    note: str = ""


@dataclass(frozen=True, slots=True)
class DemoState:
    """What a database holds, as far as the demo is concerned."""

    city: str | None  # the slug of the demo city it holds, if any
    complete: bool  # that demo's generation finished
    other_data: bool  # it holds health centres or patients of no demo


@dataclass(frozen=True, slots=True)
class DemoSummary:
    city: str
    centres: int
    staff_accounts: int
    patients: int
    patient_accounts: int
    chronic_patients: int
    past_appointments: int
    upcoming_bookings: int
    free_slots: int
    seconds: float
    followed_from_home: int = 0


class DemoError(Exception):
    """The demo cannot use this database; the message says what to do."""


# -- what the database holds -------------------------------------------------------


async def demo_state(store: Store) -> DemoState:
    async with store.reading(EVERYTHING) as tx:
        markers = await find(tx, "Basic", [("code", f"{DEMO_CODES}|")], limit=1)
        if markers:
            marker = markers[0]
            slug = marker["code"]["coding"][0]["code"]
            return DemoState(slug, _generated_at(marker) is not None, False)
        other = any([await find(tx, resource_type, [], limit=1)
                     for resource_type in ("Organization", "Patient")])
    return DemoState(None, False, other)


async def has_demo_data(store: Store, city: City) -> bool:
    """Whether the database holds this city's finished demo."""
    state = await demo_state(store)
    return state.city == city.slug and state.complete


def check_usable(state: DemoState, city: City) -> None:
    """Raise DemoError unless the demo of ``city`` may be generated in (or reuse) a
    database in this state."""
    if state.other_data:
        raise DemoError("This database already holds health centres or patients that are "
                        "not a demo's. mor demo fills only an empty database: give another "
                        "--database-url.")
    if state.city is not None and state.city != city.slug:
        raise DemoError(f"This database holds the {state.city} demo. Give another "
                        "--database-url, or start with --reset to replace it.")
    if state.city is not None and not state.complete:
        raise DemoError("An earlier generation of the demo in this database was interrupted. "
                        "Start again with --reset to delete it and generate it anew.")


def _generated_at(marker: dict[str, Any]) -> str | None:
    return next((e.get("valueDateTime") for e in marker.get("extension") or ()
                 if e.get("url") == GENERATED_URL), None)


# -- the accounts ---------------------------------------------------------------------


def staff_of(plan: CentrePlan) -> list[tuple[str, Role]]:
    """The usernames and roles of a centre's staff: doctor.<centre>, doctor2.<centre> ..."""
    def numbered(role: Role, word: str, count: int) -> list[tuple[str, Role]]:
        return [(f"{word}{n if n > 1 else ''}.{plan.slug}", role) for n in range(1, count + 1)]

    return [(f"admin.{plan.slug}", Role.CENTRE_ADMIN), *numbered(Role.DOCTOR, "doctor",
                                                                  plan.doctors),
            *numbered(Role.NURSE, "nurse", plan.nurses),
            *numbered(Role.PHARMACIST, "pharmacist", int(plan.pharmacist))]


def demo_accounts(city: City) -> list[DemoAccount]:
    """Every staff account of the demo and the featured patients', as printed."""
    staff = [DemoAccount(username, role, city.password, plan.slug)
             for plan in city.centres for username, role in staff_of(plan)]
    patients = [DemoAccount(f.username, Role.PATIENT, city.password, f.centre, f.note)
                for f in city.featured]
    return [DemoAccount("city.admin", Role.CITY_ADMIN, city.password,
                        note="the city's health centres and accounts"), *staff, *patients]


# -- generating -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Rostered:
    entry: RosterEntry
    service: Service
    schedule: dict[str, Any]  # the Schedule resource, whose actors an appointment names


@dataclass(slots=True)
class _OpenCentre:
    plan: CentrePlan
    centre: Centre
    services: dict[str, Service] = field(default_factory=dict)  # by kind
    doctors: list[str] = field(default_factory=list)  # Practitioner ids
    nurses: list[str] = field(default_factory=list)
    rostered: list[_Rostered] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Patient:
    id: str
    resource: dict[str, Any]
    centre: _OpenCentre
    conditions: tuple[str, ...]
    username: str | None  # their account's, if they have one
    verified: bool = True
    featured: bool = False


async def generate_demo(store: Store, city: City) -> DemoSummary | None:
    """Generate the demo of ``city`` in an empty database; None when the database holds
    it already. Raises DemoError for a database it cannot be in (:func:`check_usable`)."""
    started = clock.perf_counter()
    state = await demo_state(store)
    check_usable(state, city)
    if state.complete:
        return None
    check_password_strength(city.password)
    rng = random.Random(f"mor demo {city.slug}")
    today = datetime.now(city.zone).date()
    marker_id = await _begin(store, city, today)
    city_admin = await person_caller(store, await add_account(
        store, "city.admin", city.password, Role.CITY_ADMIN))
    centres = [await _open_centre(store, city, city_admin, plan, rng, today)
               for plan in city.centres]
    await _insert(store, [prepare_new(hospital_resource(names, city.language,
                                                        city.address_city))
                          for names in city.hospitals])
    patients = _patients(city, centres, rng, today)
    await _insert(store, [prepare_new(p.resource, p.id) for p in patients]
                  + _conditions(city, patients, rng, today))
    past = await _insert_history(store, city, centres, patients, rng, today)
    accounts = await _patient_accounts(store, city, patients)
    # Last, with a generator of its own: free times depend on the time of day, and the
    # rest of the data must not.
    upcoming = await _book_ahead(store, city, patients, accounts,
                                 random.Random(f"mor demo {city.slug} bookings"))
    seen = next(p for p in patients if p.username == city.featured[0].username)
    await signed_visit(store, city, seen.id, seen.centre.centre.id,
                       seen.centre.centre.location_id, seen.centre.plan.slug)
    followed = _followed_from_home(patients, rng)
    await follow_from_home(store, datetime.now(city.zone), followed,
                           random.Random(f"mor demo {city.slug} readings"))
    await _finish(store, marker_id)
    # Just filled, PostgreSQL's tables still look empty to its planner, whose plans then
    # make the first minutes' searches of free times 200 times slower (600 ms each).
    await refresh_statistics(store.engine)
    return DemoSummary(
        city.slug, len(centres), sum(len(staff_of(p)) for p in city.centres) + 1,
        len(patients), len(accounts), sum(1 for p in patients if p.conditions), past,
        upcoming, await _free_slots(store, city), clock.perf_counter() - started,
        len(followed))


async def keep_slots_ahead(store: Store, city: City) -> int:
    """On a later start: make the slots of the four weeks from today that are missing
    (the roster makes them; nothing else runs it); returns how many it made."""
    made = 0
    for centre in await all_centres(store):
        made += (await refresh_centre(store, centre.id, zone=city.zone)).made
    return made


async def _begin(store: Store, city: City, today: date) -> str:
    marker = {"resourceType": "Basic", "code": {
        "coding": [{"system": DEMO_CODES, "code": city.slug,
                    "display": f"mor demo data of {city.name('en')}"}],
        "text": "Generated by mor demo; the people in it are invented"},
        "created": today.isoformat()}
    async with store.writing(EVERYTHING) as tx:
        return (await tx.create(marker)).id


async def _finish(store: Store, marker_id: str) -> None:
    async with store.writing(EVERYTHING) as tx:
        marker = (await tx.read("Basic", marker_id)).resource()
        marker.pop("meta", None)
        marker["extension"] = [{"url": GENERATED_URL,
                                "valueDateTime": datetime.now().astimezone().isoformat(
                                    timespec="seconds")}]
        await tx.update("Basic", marker_id, marker)


async def _insert(store: Store, new: list[NewResource]) -> None:
    # One transaction, one multi-row INSERT per table and 500 resources.
    async with store.writing(EVERYTHING) as tx:
        await tx.insert_new(new)


# -- centres, staff and rosters ---------------------------------------------------


async def _open_centre(store: Store, city: City, city_admin: Principal, plan: CentrePlan,
                       rng: random.Random, today: date) -> _OpenCentre:
    """The city administrator opens the centre; its administrator, the first of its
    staff, adds its services and rosters, whose slots are made at once."""
    opened = _OpenCentre(plan, await save_centre(store, city_admin, _details(city, plan)))
    admin = await _hire_staff(store, city, opened, rng)
    for kind in plan.services:
        opened.services[kind] = await save_service(store, admin, Service(
            "", opened.centre.id, opened.centre.location_id, kind, CLINICS[kind].slot_minutes))
    for kind, practitioner, shifts in _roster_plan(opened):
        service = opened.services[kind]
        entry = await save_roster_entry(store, admin, service, practitioner, shifts)
        await refresh_slots(store, entry.schedule_id, zone=city.zone, today=today)
        async with store.reading(EVERYTHING) as tx:
            schedule = (await tx.read("Schedule", entry.schedule_id)).resource()
        opened.rostered.append(_Rostered(entry, service, schedule))
    return opened


async def _hire_staff(store: Store, city: City, opened: _OpenCentre, rng: random.Random
                      ) -> Principal:
    """The centre's staff accounts; returns its administrator, as whom it is set up."""
    admin: Principal | None = None
    for username, role in staff_of(opened.plan):
        account = await add_account(store, username, city.password, role,
                                    name=_staff_name(city, role, rng),
                                    organizations=(opened.centre.id,))
        practitioner = (account.fhir_user or "").removeprefix("Practitioner/")
        if role is Role.CENTRE_ADMIN:
            admin = await person_caller(store, account)
        elif role is Role.DOCTOR:
            opened.doctors.append(practitioner)
        elif role is Role.NURSE:
            opened.nurses.append(practitioner)
    assert admin is not None  # staff_of names one at every centre
    return admin


def _details(city: City, plan: CentrePlan) -> CentreDetails:
    hours = (_WEEKDAY_HOURS, _SATURDAY_HOURS) if plan.saturday else (_WEEKDAY_HOURS,)
    return CentreDetails(names=plan.names, districts=plan.districts, address=plan.address,
                         city=city.address_city, country=city.country,
                         language=city.language, latitude=plan.latitude,
                         longitude=plan.longitude, hours=hours)


def _staff_name(city: City, role: Role, rng: random.Random) -> str:
    female = rng.random() < 0.6
    given = rng.choice(city.people.female if female else city.people.male)[0]
    family = rng.choice(city.people.family)[0]
    return f"{city.titles[role.value][int(female)]} {given} {family}"


def _roster_plan(opened: _OpenCentre) -> list[tuple[str, str, tuple[Shift, ...]]]:
    """(service kind, practitioner, shifts): every doctor in general practice (the
    first also on Saturday mornings, where the centre opens then), the other clinics
    taken in turn by the doctors or nurses who run them. A nurse left without a clinic
    runs the first nurses' clinic alongside its nurse: twice the patients at a time."""
    plan = opened.plan
    rows = [(GP, doctor, CLINICS[GP].shifts + ((_SATURDAY_GP,) if plan.saturday and not n
                                               else ()))
            for n, doctor in enumerate(opened.doctors)]
    nurse_clinics = [kind for kind in plan.services if CLINICS[kind].role is Role.NURSE]
    doctor_clinics = [kind for kind in plan.services if kind != GP and kind not in
                      nurse_clinics]
    for kinds, staff in ((doctor_clinics, opened.doctors), (nurse_clinics, opened.nurses)):
        rows += [(kind, staff[n % len(staff)], CLINICS[kind].shifts)
                 for n, kind in enumerate(kinds)]
    rows += [(nurse_clinics[0], nurse, CLINICS[nurse_clinics[0]].shifts)
             for nurse in opened.nurses[len(nurse_clinics):]]
    return rows


# -- patients ---------------------------------------------------------------------------


def _patients(city: City, centres: list[_OpenCentre], rng: random.Random, today: date
              ) -> list[_Patient]:
    by_slug = {c.plan.slug: c for c in centres}
    people = [_featured(city, f, by_slug[f.centre], rng) for f in city.featured]
    others = city.patients - len(people)
    # The foreigners at random places among the others; a third of all patients (of
    # the city's own people) with chronic conditions.
    foreign_at = dict(zip(rng.sample(range(others), len(city.foreigners)), city.foreigners,
                          strict=True))
    chronic_at = set(rng.sample(sorted(set(range(others)) - set(foreign_at)),
                                city.patients // 3 - sum(1 for p in people if p.conditions)))
    # Bigger centres (more doctors) have more patients.
    weights = [c.plan.doctors for c in centres]
    taken = {p.username for p in people}
    for n in range(others):
        centre = rng.choices(centres, weights)[0]
        people.append(_random_patient(city, centre, rng, today, foreign_at.get(n),
                                      n in chronic_at, taken))
    return people


def _featured(city: City, featured: Featured, centre: _OpenCentre, rng: random.Random
              ) -> _Patient:
    patient_id = _uuid(rng)
    document = _document(city, rng, featured.passport)
    language = _PASSPORTS[featured.passport][1] if featured.passport else city.language
    email = f"{featured.given[1]}.{featured.family[1]}@example.org".lower()
    resource = _patient_resource(city, centre, document, featured.given[0],
                                 featured.family[0], featured.gender, featured.birth_date,
                                 language, email)
    return _Patient(patient_id, resource, centre, featured.conditions, featured.username,
                    featured.verified, featured=True)


def _random_patient(city: City, centre: _OpenCentre, rng: random.Random, today: date,
                    foreigner: Foreigner | None, chronic: bool, taken: set[str | None]
                    ) -> _Patient:
    age = rng.randint(40, 82) if chronic else rng.randint(1, 70)
    born = date(today.year - age, rng.randint(1, 12), rng.randint(1, 28))
    if foreigner is None:
        gender = rng.choice(("male", "female"))
        given: Name = rng.choice(city.people.male if gender == "male" else city.people.female)
        family: Name = rng.choice(city.people.family)
        document = _document(city, rng, None)
        language = city.language
    else:
        gender = foreigner.gender
        given, family = (foreigner.given,) * 2, (foreigner.family,) * 2
        document = _document(city, rng, foreigner.country)
        language = _PASSPORTS[foreigner.country][1]
    # Over half the adults registered online; the others, and children (whom a parent
    # would book for), came to the desk.
    online = rng.random() < 0.6 and age >= 18
    username = _username(given[1], family[1], taken) if online else None
    email = f"{username.removeprefix('patient.')}@example.org" if username else None
    resource = _patient_resource(city, centre, document, given[0], family[0], gender,
                                 born.isoformat(), language, email)
    return _Patient(_uuid(rng), resource, centre, _chronic_conditions(rng) if chronic else (),
                    username)


def _username(given: str, family: str, taken: set[str | None]) -> str:
    stem = f"patient.{given}.{family}".lower().replace(" ", "").replace("-", "")
    username, n = stem, 1
    while username in taken:
        n += 1
        username = f"{stem}{n}"
    taken.add(username)
    return username


def _document(city: City, rng: random.Random, passport: str | None) -> dict[str, Any]:
    """The identity document's FHIR Identifier (a passport of that country, else the
    city's identity card), made as registration makes it."""
    if passport is not None:
        return identifier("passport", _PASSPORTS[passport][0] + _digits(rng, 7), passport)
    if city.identity_card == "th-national-id":
        return identifier("th-national-id", thai_national_id(rng))
    return identifier(city.identity_card, _digits(rng, 10))


def _digits(rng: random.Random, count: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(count))


def thai_national_id(rng: random.Random) -> str:
    """An invented Thai national ID: a person registered in Bangkok (province 10), with
    the check digit of mor.auth.identifiers."""
    body = rng.choice("13") + "10" + _digits(rng, 9)
    total = sum(int(digit) * (13 - position) for position, digit in enumerate(body))
    return body + str((11 - total % 11) % 10)


def _patient_resource(city: City, centre: _OpenCentre, document: dict[str, Any], given: str,
                      family: str, gender: str, birth_date: str, language: str,
                      email: str | None) -> dict[str, Any]:
    district = centre.plan.districts[city.language]
    patient: dict[str, Any] = {
        "resourceType": "Patient", "active": True, "identifier": [document],
        "name": [{"use": "official", "family": family, "given": given.split()}],
        "gender": gender, "birthDate": birth_date,
        "address": [{"use": "home", "district": district, "city": city.address_city,
                     "country": city.country}],
        "communication": [{"language": {"coding": [{"system": _BCP47, "code": language}]},
                           "preferred": True}],
        "managingOrganization": {"reference": f"Organization/{centre.centre.id}"},
    }
    if email:
        patient["telecom"] = [{"system": "email", "value": email, "use": "home"}]
    return patient


def _chronic_conditions(rng: random.Random) -> tuple[str, ...]:
    # Hypertension is the commonest, then diabetes, then dyslipidaemia, often together.
    codes = tuple(code for code, share in (("I10", 0.75), ("E11", 0.4), ("E78", 0.35))
                  if rng.random() < share)
    return codes or ("I10",)


def _conditions(city: City, patients: list[_Patient], rng: random.Random, today: date
                ) -> list[NewResource]:
    made = []
    for patient in patients:
        born = date.fromisoformat(patient.resource["birthDate"])
        for code in patient.conditions:
            onset = rng.randint(max(born.year + 30, today.year - 15), today.year - 1)
            made.append(prepare_new(_condition(city, patient, code, onset), _uuid(rng)))
    return made


def _condition(city: City, patient: _Patient, code: str, onset: int) -> dict[str, Any]:
    return {
        "resourceType": "Condition", "language": city.language,
        "clinicalStatus": {"coding": [{"system": _CLINICAL, "code": "active"}]},
        "verificationStatus": {"coding": [{"system": _VERIFICATION, "code": "confirmed"}]},
        "category": [{"coding": [{"system": _CATEGORY, "code": "problem-list-item",
                                  "display": "Problem List Item"}]}],
        "code": {"coding": [{"system": ICD10, "code": code, "display": CONDITIONS[code]}],
                 "text": city.condition_texts[code]},
        "subject": {"reference": f"Patient/{patient.id}"},
        "onsetDateTime": str(onset), "recordedDate": str(onset),
        "recorder": {"reference": f"Practitioner/{patient.centre.doctors[0]}"},
    }


def _followed_from_home(patients: list[_Patient], rng: random.Random) -> list[Followed]:
    """The featured patients with high blood pressure or diabetes, then some other
    chronic patients of their centres, each with the story their readings tell."""
    chosen = [p for p in patients if p.featured and p.verified
              and {"I10", "E11"} & set(p.conditions)]
    centres = {p.centre.plan.slug for p in chosen}
    for slug in sorted(centres):
        others = [p for p in patients if not p.featured and p.centre.plan.slug == slug
                  and {"I10", "E11"} & set(p.conditions)]
        chosen += rng.sample(others, min(OTHERS_PER_CENTRE, len(others)))
    return [Followed(p.id, p.centre.plan.slug, p.conditions, story)
            for p, story in zip(chosen, stories(len(chosen)), strict=True)]


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


# -- the past year ------------------------------------------------------------------


_Planned = tuple[_Rostered, PlannedSlot]


def _past_slots(centres: list[_OpenCentre], zone: ZoneInfo, today: date
                ) -> dict[str, dict[date, list[_Planned]]]:
    """The slots every roster had in the past year, by service and day."""
    first = today - timedelta(days=_HISTORY_DAYS)
    by_service: dict[str, dict[date, list[_Planned]]] = defaultdict(lambda: defaultdict(list))
    for rostered in (r for centre in centres for r in centre.rostered):
        entry = rostered.entry
        for planned in planned_slots(entry.schedule_id, entry.shifts, rostered.service, first,
                                     _HISTORY_DAYS, zone):
            by_service[rostered.service.id][planned.start.date()].append((rostered, planned))
    return by_service


async def _insert_history(store: Store, city: City, centres: list[_OpenCentre],
                          patients: list[_Patient], rng: random.Random, today: date) -> int:
    """A year of past appointments, each with its Slot; returns how many."""
    slots = _past_slots(centres, city.zone, today)
    taken: set[str] = set()
    new: list[NewResource] = []
    for patient in patients:
        service = _service_for(patient)
        for day in _visit_days(patient, rng, today):
            found = _free_past_slot(slots[service.id], taken, day, today, rng)
            if found is None:
                continue
            rostered, planned = found
            taken.add(planned.id)
            status = _past_status(rng)
            new.append(prepare_new(_past_slot(rostered, planned, status), planned.id))
            new.append(prepare_new(_past_appointment(patient, rostered, planned, status, rng),
                                   _uuid(rng)))
    await _insert(store, new)
    return len(new) // 2


def _service_for(patient: _Patient) -> Service:
    """The clinic that follows the patient's condition, else general practice."""
    services = patient.centre.services
    kind = next((kind for code, kind in _FOLLOW_UP
                 if code in patient.conditions and kind in services), GP)
    return services[kind]


def _visit_days(patient: _Patient, rng: random.Random, today: date) -> list[date]:
    """Chronic patients come every month or every three months; the others now and then."""
    first = today - timedelta(days=_HISTORY_DAYS)
    if not patient.conditions:
        count = rng.choice((0, 1, 1, 2, 3))
        return sorted(first + timedelta(days=rng.randrange(_HISTORY_DAYS)) for _ in range(count))
    every = rng.choice((28, 28, 91))
    start = rng.randrange(every)
    return [first + timedelta(days=day + rng.randint(-3, 3))
            for day in range(start, _HISTORY_DAYS - 7, every)]


def _free_past_slot(by_day: dict[date, list[_Planned]], taken: set[str], day: date,
                    today: date, rng: random.Random) -> _Planned | None:
    """A slot not yet given to anyone on ``day`` or within the week after (the clinic may
    not run that day), before today."""
    for offset in range(8):
        candidate = day + timedelta(days=offset)
        if candidate >= today:
            return None
        free = [p for p in by_day.get(candidate, ()) if p[1].id not in taken]
        if free:
            return rng.choice(free)
    return None


def _past_status(rng: random.Random) -> str:
    draw = rng.random()
    return "noshow" if draw < 0.08 else "cancelled" if draw < 0.15 else "fulfilled"


def _past_slot(rostered: _Rostered, planned: PlannedSlot, status: str) -> dict[str, Any]:
    # As slots.py makes a Slot; booking made it busy, and cancelling freed it again.
    return {
        "resourceType": "Slot", "status": "free" if status == "cancelled" else "busy",
        "schedule": {"reference": f"Schedule/{rostered.schedule['id']}"},
        "serviceType": rostered.schedule.get("serviceType") or [],
        "start": planned.start.isoformat(), "end": planned.end.isoformat(),
    }


def _past_appointment(patient: _Patient, rostered: _Rostered, planned: PlannedSlot,
                      status: str, rng: random.Random) -> dict[str, Any]:
    # As booking.py makes an Appointment, then as staff (or cancelling) left it.
    schedule = rostered.schedule
    booked = planned.start.date() - timedelta(days=rng.randint(1, 21))
    appointment: dict[str, Any] = {
        "resourceType": "Appointment", "status": status,
        "serviceType": schedule.get("serviceType") or [],
        "slot": [{"reference": f"Slot/{planned.id}"}],
        "start": planned.start.isoformat(), "end": planned.end.isoformat(),
        "minutesDuration": int((planned.end - planned.start).total_seconds() // 60),
        "created": booked.isoformat(),
        "participant": [
            {"actor": {"reference": f"Patient/{patient.id}"}, "required": "required",
             "status": "accepted"},
            *({"actor": actor, "required": "required", "status": "accepted"}
              for actor in schedule.get("actor") or () if isinstance(actor, dict)),
        ],
    }
    if status == "cancelled":
        appointment["cancelationReason"] = {"coding": [
            {"system": _CANCELLATION, "code": "pat", "display": "Patient"}]}
    return appointment


# -- accounts and bookings ahead -------------------------------------------------------


async def _patient_accounts(store: Store, city: City, patients: list[_Patient]
                            ) -> dict[str, Principal]:
    """The patients' accounts, and as whom each books: by Patient id."""
    accounts = Accounts(store.engine)
    # One hash for all: they share the demo password, and each hash takes a third of a
    # second by design (Argon2id), which forty patients would feel.
    password_hash = hash_secret(city.password)
    callers = {}
    for patient in patients:
        if patient.username is None:
            continue
        account = await accounts.add(patient.username, None, Role.PATIENT,
                                     fhir_user=f"Patient/{patient.id}",
                                     verified=patient.verified, password_hash=password_hash)
        if patient.verified:
            callers[patient.id] = await person_caller(store, account)
    return callers


async def _book_ahead(store: Store, city: City, patients: list[_Patient],
                      callers: dict[str, Principal], rng: random.Random) -> int:
    """Bookings in the coming weeks, made as the patients make them: the featured ones'
    and most chronic patients' next follow-up, and some general-practice visits."""
    booked = 0
    now = datetime.now(city.zone)
    for patient in patients:
        caller = callers.get(patient.id)
        wanted = patient.featured or (rng.random() < (0.8 if patient.conditions else 0.35))
        if caller is None or not wanted:
            continue
        ahead = 1 if patient.featured else rng.randint(1, 20)
        start = now + timedelta(days=ahead)
        times = await free_times(store, _service_for(patient).id, start,
                                 start + timedelta(days=7), limit=12)
        if not times:
            continue
        try:
            # The featured patients' next visit is by video, for a newcomer to try.
            await book(store, caller, patient.id, rng.choice(times).slot_id,
                       video=patient.featured)
        except BookingRefused:
            continue  # a time they already have something at: they book another day
        booked += 1
    return booked


async def _free_slots(store: Store, city: City) -> int:
    query = compile_search("Slot", [("status", "free"), (
        "start", f"ge{datetime.now(city.zone).isoformat()}")]).query
    async with store.reading(EVERYTHING) as tx:
        return await tx.count(query)
