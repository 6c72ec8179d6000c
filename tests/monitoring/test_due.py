"""What is due today and the evening reminder: the kinds of a plan with no reading yet
today in the city's calendar; one reminder a plan a day, by SMS in the patient's
language, after 18:00 only, none once everything is in, and none again on a rerun (on
SQLite and PostgreSQL)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from mor.fhir.store import Store
from mor.fhir.visibility import EVERYTHING
from mor.services.messaging import SendFailed
from mor.services.monitoring.due import REMINDER_ID_SYSTEM, due_today, send_due_reminders
from mor.services.monitoring.plans import Plan, enrol
from mor.services.monitoring.readings import Reading, record
from mor.services.monitoring.thresholds import CITY_DEFAULTS
from mor.services.scheduling.lookup import find
from tests.video.conftest import Centre, Person

BANGKOK = ZoneInfo("Asia/Bangkok")
TODAY = datetime.now(BANGKOK).date()
MORNING = datetime.combine(TODAY, time(8), BANGKOK)
EVENING = datetime.combine(TODAY, time(19), BANGKOK)


@dataclass
class Outbox:
    sent: list[tuple[str, str, str]] = field(default_factory=list)
    fail: bool = False

    async def send(self, to: str, subject: str, text: str) -> None:
        if self.fail:
            raise SendFailed("the SMS gateway is down")
        self.sent.append((to, subject, text))


def translate(language: str, text: str) -> str:
    return f"[{language}] {text}"


def plan_of(*kinds: str) -> Plan:
    return Plan("p", "1", "pat", "c", ("diabetes",), kinds, CITY_DEFAULTS,
                MORNING.isoformat())


def reading(kind: str, taken: datetime) -> Reading:
    values = {"bp": {"systolic": 130.0, "diastolic": 80.0}, "glucose": {"glucose": 100.0},
              "weight": {"weight": 60.0}}[kind]
    return Reading(kind, taken, values, "fasting" if kind == "glucose" else None)


def test_what_has_no_reading_today_in_the_city_calendar_is_due() -> None:
    plan = plan_of("glucose", "bp", "weight")
    assert due_today(plan, [], TODAY, BANGKOK) == ["glucose", "bp", "weight"]
    # 23:30 UTC yesterday is 06:30 today in Bangkok: today's reading.
    early = datetime.combine(TODAY - timedelta(days=1), time(23, 30), ZoneInfo("UTC"))
    yesterday = MORNING - timedelta(days=1)
    assert due_today(plan, [reading("bp", early), reading("weight", yesterday)], TODAY,
                     BANGKOK) == ["glucose", "weight"]
    assert due_today(plan, [reading(k, MORNING) for k in plan.kinds], TODAY, BANGKOK) == []


async def _patient(store: Store, centre: Centre, *, phone: str | None, language: str
                   ) -> Person:
    booked = await centre.booking(store)
    async with store.writing(EVERYTHING) as tx:
        current = await tx.read("Patient", booked.patient.id)
        patient: dict[str, Any] = {k: v for k, v in current.resource().items()
                                   if k != "meta"}
        if phone:
            patient["telecom"] = [{"system": "phone", "value": phone}]
        patient["communication"] = [{"language": {"coding": [
            {"system": "urn:ietf:bcp:47", "code": language}]}}]
        await tx.update("Patient", booked.patient.id, patient)
    return booked.patient


async def _reminders(store: Store, patient_id: str) -> list[dict[str, Any]]:
    async with store.reading(EVERYTHING) as tx:
        return await find(tx, "Communication", [("patient", f"Patient/{patient_id}"),
                                                ("category", "reminder")])


async def test_the_evening_reminder_goes_once_by_sms_in_the_patients_language(
        store: Store, centre: Centre) -> None:
    patient = await _patient(store, centre, phone="+66812345678", language="th")
    plan = await enrol(store, patient.caller, patient.id, ["hypertension"], now=MORNING)
    await record(store, patient.caller, patient.id, reading("weight", MORNING), plan.id)
    sms, email = Outbox(), Outbox()

    async def remind(now: datetime) -> int:
        return await send_due_reminders(store, now, zone=BANGKOK, email=email, sms=sms,
                                        translate=translate,
                                        link="https://mor.example/my/readings")

    assert await remind(EVENING.replace(hour=17)) == 0  # the day is not over yet
    assert sms.sent == []
    assert await remind(EVENING) == 1
    assert await remind(EVENING + timedelta(hours=1)) == 0  # the next hour's round
    assert len(sms.sent) == 1 and email.sent == []
    to, subject, text = sms.sent[0]
    assert to == "+66812345678"
    assert subject == "[th] Today's home readings"
    # Only blood pressure is due: the weight came this morning.
    assert text.startswith("[th] Reminder from your health centre")
    assert "[th] Blood pressure" in text and "Weight" not in text
    assert "https://mor.example/my/readings" in text

    [kept] = await _reminders(store, patient.id)
    assert kept["status"] == "completed" and kept["sent"]
    assert kept["identifier"] == [{"system": REMINDER_ID_SYSTEM,
                                   "value": f"CarePlan/{plan.id}/{TODAY.isoformat()}"}]
    assert kept["recipient"] == [{"reference": f"Patient/{patient.id}"}]
    assert kept["basedOn"] == [{"reference": f"CarePlan/{plan.id}"}]
    assert kept["payload"][0]["contentString"] == text


async def test_no_reminder_once_everything_is_in_or_without_a_plan(
        store: Store, centre: Centre) -> None:
    done = await _patient(store, centre, phone="+66811111111", language="en")
    plan = await enrol(store, done.caller, done.id, ["hypertension"], now=MORNING)
    for kind in plan.kinds:
        await record(store, done.caller, done.id, reading(kind, MORNING), plan.id)
    await _patient(store, centre, phone="+66822222222", language="en")  # not enrolled
    sms = Outbox()
    assert await send_due_reminders(store, EVENING, zone=BANGKOK, email=Outbox(), sms=sms,
                                    translate=translate) == 0
    assert sms.sent == []


async def test_a_patient_with_nowhere_to_send_it_or_a_failed_sms_is_not_reminded_twice(
        store: Store, centre: Centre) -> None:
    silent = await _patient(store, centre, phone=None, language="lo")
    await enrol(store, silent.caller, silent.id, ["diabetes"], now=MORNING)
    failing = await _patient(store, centre, phone="+66833333333", language="en")
    await enrol(store, failing.caller, failing.id, ["hypertension"], now=MORNING)
    sms = Outbox(fail=True)
    for _ in range(2):
        await send_due_reminders(store, EVENING, zone=BANGKOK, email=Outbox(), sms=sms,
                                 translate=translate)
    [unsent] = await _reminders(store, silent.id)
    assert unsent["status"] == "not-done"
    assert "no phone number or e-mail" in unsent["statusReason"]["text"]
    assert "[lo] Blood sugar, [lo] Blood pressure, [lo] Weight" in unsent["payload"][0][
        "contentString"]
    [failed] = await _reminders(store, failing.id)
    assert failed["status"] == "not-done"
    assert failed["statusReason"]["text"] == "the SMS gateway is down"
