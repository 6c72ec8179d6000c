"""Reminders the day before a visit: each patient with an appointment booked in the
next 24 hours gets one message, by e-mail or SMS (whichever they registered with), in
the language they registered in. The same way, a patient whose appointment the centre
cancelled (it closed that day) is told so (tell_cancelled), once.

Each reminder is kept as a FHIR ``Communication`` (category reminder, about and based
on the Appointment, in the patient's record), written before the message goes out, under a
lock on the appointment so two server processes never remind twice; it is completed
once the message is handed over, or marked not done with the reason. A reminder is
sent at most once: one whose sending was interrupted stays "in progress" for the
operator to see rather than risk a second message.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

from mor.fhir.store import Store
from mor.fhir.timestamps import instant_from_micros, now_micros
from mor.fhir.visibility import EVERYTHING
from mor.messages import N_
from mor.services.messaging import Sender, SendFailed
from mor.services.scheduling.booking import Booking, booking_of
from mor.services.scheduling.centres import CentreNotFound, get_centre
from mor.services.scheduling.codes import SERVICE_KINDS
from mor.services.scheduling.lookup import find
from mor.services.scheduling.offered import ServiceNotFound, get_service

AHEAD: Final = timedelta(hours=24)
EVERY_SECONDS: Final = 300
_WINDOW: Final = timedelta(minutes=15)
_MOST_AT_ONCE: Final = 10_000
_CATEGORY: Final = {"coding": [{
    "system": "http://terminology.hl7.org/CodeSystem/communication-category",
    "code": "reminder", "display": "Reminder"}]}
_SUBJECT: Final = N_("Your appointment tomorrow")
_TEXT: Final = N_("Reminder: {service} at {centre}, {day} at {time}. To change or cancel it: "
                  "{link}")
_TEXT_WITHOUT_LINK: Final = N_("Reminder: {service} at {centre}, {day} at {time}.")
_NOTIFICATION: Final = {"coding": [{
    "system": "http://terminology.hl7.org/CodeSystem/communication-category",
    "code": "notification", "display": "Notification"}]}
_CANCELLED_SUBJECT: Final = N_("Your appointment is cancelled")
_CANCELLED_TEXT: Final = N_("{centre} is closed on {day} ({reason}), so your appointment for "
                            "{service} at {time} is cancelled. Please choose another time: "
                            "{link}")
_CANCELLED_TEXT_WITHOUT_LINK: Final = N_("{centre} is closed on {day} ({reason}), so your "
                                         "appointment for {service} at {time} is "
                                         "cancelled. Please choose another time.")
log = logging.getLogger(__name__)

# (language, message) -> the message in that language
Translate = Callable[[str, str], str]
# (day, language) -> the day as written in that language
FormatDay = Callable[[datetime, str], str]


@dataclass(frozen=True, slots=True)
class Reminders:
    store: Store
    email: Sender
    sms: Sender
    zone: ZoneInfo
    translate: Translate
    format_day: FormatDay
    link: str | None  # where patients see their appointments (MOR_BASE_URL set)
    default_language: str = "en"

    async def send_due(self, now: datetime | None = None) -> int:
        """Remind every patient whose appointment starts in the next 24 hours and who was
        not reminded of it yet; returns how many were sent."""
        now = now or datetime.now(self.zone)
        sent = 0
        # A quarter of an hour at a time: even a big city's busiest quarter holds fewer
        # appointments than one read takes, so none is left out.
        for start in range(0, int(AHEAD / _WINDOW)):
            begin = now + start * _WINDOW
            async with self.store.reading(EVERYTHING) as tx:
                due = await find(tx, "Appointment", [
                    ("status", "booked"), ("date", f"gt{begin.isoformat()}"),
                    ("date", f"le{(begin + _WINDOW).isoformat()}")], limit=_MOST_AT_ONCE)
            if len(due) == _MOST_AT_ONCE:
                log.warning("more than %d appointments start in the quarter after %s; "
                            "some are reminded later", _MOST_AT_ONCE, begin.isoformat())
            for appointment in due:
                if await self._remind(appointment):
                    sent += 1
        return sent

    async def run_forever(self) -> None:
        while True:
            try:
                await self.send_due()
            except Exception:  # a bad night must not stop tomorrow's reminders
                log.exception("sending appointment reminders failed; trying again later")
            await asyncio.sleep(EVERY_SECONDS)

    async def tell_cancelled(self, booking: Booking, reason: str) -> bool:
        """Tell the patient the centre cancelled their appointment because it is closed
        that day; False when they have nowhere to be told, or were told already."""
        return await self._message(booking, _NOTIFICATION, _CANCELLED_SUBJECT,
                                   self._cancelled_text, reason)

    async def _remind(self, appointment: dict[str, Any]) -> bool:
        return await self._message(booking_of(appointment), _CATEGORY, _SUBJECT,
                                   self._text, "")

    async def _message(self, booking: Booking, category: dict[str, Any], subject: str,
                       write: Callable[[Booking, str, str], Awaitable[str]], reason: str
                       ) -> bool:
        about = f"Appointment/{booking.appointment_id}"
        kind = category["coding"][0]["code"]
        async with self.store.writing(EVERYTHING) as tx:
            await tx.lock_criteria("Communication", f"based-on={about}")
            if await find(tx, "Communication", [("based-on", about), ("category", kind)],
                          limit=1):
                return False
            patients = await find(tx, "Patient", [("_id", booking.patient_id or "-")],
                                  limit=1)
            contact = contact_of(patients[0]) if patients else None
            if contact is None:
                return False  # nowhere to send it; the centre's list still shows the visit
            language = language_of(patients[0]) or self.default_language
            text = await write(booking, language, reason)
            record = await tx.create({
                "resourceType": "Communication", "status": "in-progress",
                "category": [category], "subject": {"reference": f"Patient/{booking.patient_id}"},
                # "about" says what it is about; R4 searches basedOn, not about.
                "about": [{"reference": about}], "basedOn": [{"reference": about}],
                "recipient": [{"reference": f"Patient/{booking.patient_id}"}],
                "medium": [{"text": "e-mail" if contact[0] == "email" else "SMS"}],
                "payload": [{"contentString": text}]})
        sender = self.email if contact[0] == "email" else self.sms
        try:
            await sender.send(contact[1], self.translate(language, subject), text)
        except SendFailed as failure:
            await finish_communication(self.store, record.id, "not-done", str(failure))
            log.warning("a %s could not be sent: %s", kind, failure)
            return False
        await finish_communication(self.store, record.id, "completed", None)
        return True

    async def _text(self, booking: Booking, language: str, reason: str) -> str:
        template = _TEXT if self.link else _TEXT_WITHOUT_LINK
        return await self._filled(template, booking, language, reason)

    async def _cancelled_text(self, booking: Booking, language: str, reason: str) -> str:
        template = _CANCELLED_TEXT if self.link else _CANCELLED_TEXT_WITHOUT_LINK
        return await self._filled(template, booking, language, reason)

    async def _filled(self, template: str, booking: Booking, language: str, reason: str
                      ) -> str:
        centre_name = service_name = ""
        try:
            if booking.service_id:
                service = await get_service(self.store, booking.service_id)
                service_name = self.translate(language, SERVICE_KINDS[service.kind])
                centre_name = (await get_centre(self.store, service.centre_id)).name(language)
        except (ServiceNotFound, CentreNotFound):
            pass
        local = booking.start.astimezone(self.zone)
        return self.translate(language, template).format(
            service=service_name, centre=centre_name, day=self.format_day(local, language),
            time=local.strftime("%H:%M"), link=self.link, reason=reason)


async def finish_communication(store: Store, communication_id: str, status: str,
                               reason: str | None) -> None:
    """Mark a reminder's Communication sent (completed) or not (not-done, and why)."""
    async with store.writing(EVERYTHING) as tx:
        current = await tx.read("Communication", communication_id)
        changed = current.resource()
        changed["status"] = status
        if status == "completed":
            changed["sent"] = instant_from_micros(now_micros())
        if reason:
            changed["statusReason"] = {"text": reason}
        await tx.update("Communication", communication_id, changed,
                        if_match=current.version_id)


def contact_of(patient: dict[str, Any]) -> tuple[str, str] | None:
    for system in ("phone", "email"):  # an SMS is read sooner
        for telecom in patient.get("telecom") or ():
            if telecom.get("system") == system and telecom.get("value") and (
                    telecom.get("use") != "old"):
                return system, str(telecom["value"])
    return None


def language_of(patient: dict[str, Any]) -> str | None:
    for communication in patient.get("communication") or ():
        for coding in (communication.get("language") or {}).get("coding") or ():
            code = str(coding.get("code", "")).split("-")[0]
            if code in ("th", "lo", "en"):
                return code
    return None

