"""Reminders when a home reading is due: a plan asks for each of its kinds of reading
once a day; what has no reading yet today (in the city's time zone) is due. The page
shows it; in the evening, a patient with something still due gets one reminder, by SMS
or e-mail (whichever they registered with), in their language.

Each reminder is a FHIR ``Communication`` (category reminder, about and based on the
plan, in the patient's record) whose identifier names the plan and the day, written
under a lock on that identifier before the message goes out: a rerun, a restart or a
second server process never reminds twice the same day.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import date, datetime, time, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

from mor.fhir.store import Store, Transaction
from mor.fhir.visibility import EVERYTHING
from mor.messages import N_
from mor.services.messaging import Sender, SendFailed
from mor.services.monitoring.alerts import plan_readings
from mor.services.monitoring.codes import MONITORING, READING_KINDS
from mor.services.monitoring.plans import PLAN_SEARCH, Plan, plan_of
from mor.services.monitoring.readings import Reading
from mor.services.scheduling.lookup import find, ids
from mor.services.scheduling.reminders import contact_of, finish_communication, language_of

# The evening hour, city time, after which a reading still missing today is reminded of.
REMIND_AT: Final = time(18, 0)
REMINDER_ID_SYSTEM: Final = f"{MONITORING}/due-reminder"
_CATEGORY: Final = {"coding": [{
    "system": "http://terminology.hl7.org/CodeSystem/communication-category",
    "code": "reminder", "display": "Reminder"}]}
_SUBJECT: Final = N_("Today's home readings")
_TEXT: Final = N_("Reminder from your health centre: today's {kinds} is not sent yet. "
                  "Measure and send it: {link}")
_TEXT_WITHOUT_LINK: Final = N_("Reminder from your health centre: today's {kinds} is not "
                               "sent yet. Please measure and send it on mor.")
log = logging.getLogger(__name__)

# (language, message) -> the message in that language
Translate = Callable[[str, str], str]


def due_today(plan: Plan, readings: Sequence[Reading], today: date, zone: ZoneInfo
              ) -> list[str]:
    """The kinds of reading the plan asks for that have none taken on ``today`` (a day
    of the city's calendar), in the plan's order."""
    done = {r.kind for r in readings if r.taken.astimezone(zone).date() == today}
    return [kind for kind in plan.kinds if kind not in done]


def start_of_day(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), zone)


async def send_due_reminders(store: Store, now: datetime, *, zone: ZoneInfo,
                             email: Sender, sms: Sender, translate: Translate,
                             link: str | None = None, default_language: str = "en",
                             remind_at: time = REMIND_AT) -> int:
    """After ``remind_at`` (city time), remind every patient whose active plan still has
    a reading due today and who was not reminded today; returns how many were written.
    Before that hour, nothing: the day is not over."""
    local = now.astimezone(zone)
    if local.time() < remind_at:
        return 0
    today = local.date()
    async with store.reading(EVERYTHING) as tx:
        plan_ids = await ids(tx, "CarePlan", PLAN_SEARCH)
    written = 0
    for plan_id in sorted(plan_ids):
        try:
            if await _remind(store, plan_id, today, zone, email, sms, translate, link,
                             default_language, remind_at):
                written += 1
        except Exception:  # one plan's trouble must not keep the others unreminded
            log.exception("the reminder of plan %s could not be written", plan_id)
    return written


def reminder_identifier(plan_id: str, day: date) -> str:
    return f"CarePlan/{plan_id}/{day.isoformat()}"


async def _remind(store: Store, plan_id: str, today: date, zone: ZoneInfo, email: Sender,
                  sms: Sender, translate: Translate, link: str | None,
                  default_language: str, remind_at: time) -> bool:
    identifier = reminder_identifier(plan_id, today)
    about = {"reference": f"CarePlan/{plan_id}"}
    async with store.writing(EVERYTHING) as tx:
        await tx.lock_criteria("Communication", f"identifier={REMINDER_ID_SYSTEM}|"
                                                f"{identifier}")
        if await find(tx, "Communication", [
                ("identifier", f"{REMINDER_ID_SYSTEM}|{identifier}")], limit=1):
            return False
        plans = await find(tx, "CarePlan", [*PLAN_SEARCH, ("_id", plan_id)], limit=1)
        if not plans:
            return False
        plan = plan_of(plans[0])
        started = _moment(plan.started)
        if started is not None and started > datetime.combine(today, remind_at, zone):
            return False  # enrolled this evening: nothing was asked of them yet
        readings = await plan_readings(tx, plan.patient_id, plan.kinds,
                                       start_of_day(today, zone) - timedelta(hours=1))
        due = due_today(plan, readings, today, zone)
        if not due:
            return False
        patient = await _patient(tx, plan.patient_id)
        language = (language_of(patient) if patient else None) or default_language
        contact = contact_of(patient) if patient else None
        kinds = ", ".join(translate(language, READING_KINDS[k].name) for k in due)
        template = _TEXT if link else _TEXT_WITHOUT_LINK
        text = translate(language, template).format(kinds=kinds, link=link)
        subject = {"reference": f"Patient/{plan.patient_id}"}
        communication: dict[str, Any] = {
            "resourceType": "Communication",
            "identifier": [{"system": REMINDER_ID_SYSTEM, "value": identifier}],
            "status": "in-progress" if contact else "not-done",
            "category": [_CATEGORY], "subject": subject, "recipient": [subject],
            "about": [about], "basedOn": [about],
            "payload": [{"contentString": text}]}
        if contact:
            communication["medium"] = [{"text": "e-mail" if contact[0] == "email"
                                        else "SMS"}]
        else:
            # Kept all the same: the page shows what is due, and the day is marked done.
            communication["statusReason"] = {"text": "The patient has no phone number or "
                                                     "e-mail address to send it to"}
        stored = await tx.create(communication)
    if contact is None:
        return True
    sender = email if contact[0] == "email" else sms
    try:
        await sender.send(contact[1], translate(language, _SUBJECT), text)
    except SendFailed as failure:
        await finish_communication(store, stored.id, "not-done", str(failure))
        log.warning("a home-reading reminder could not be sent: %s", failure)
        return True
    await finish_communication(store, stored.id, "completed", None)
    return True


async def _patient(tx: Transaction, patient_id: str) -> dict[str, Any] | None:
    found = await find(tx, "Patient", [("_id", patient_id or "-")], limit=1)
    return found[0] if found else None


def _moment(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else None
