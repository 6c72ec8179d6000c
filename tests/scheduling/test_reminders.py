"""Reminders the day before: one message per booked appointment, in the patient's
language, kept as a FHIR Communication in their record."""

from __future__ import annotations

import uuid
from datetime import datetime, time, timedelta
from typing import Any

import httpx
import pytest

from mor.auth.callers import person_caller
from mor.auth.roles import Role
from mor.fhir.visibility import EVERYTHING
from mor.services.messaging import SendFailed
from mor.services.scheduling.booking import book, cancel, free_times
from mor.services.scheduling.closures import cancel_booked_on, close_day
from mor.services.scheduling.reminders import Reminders
from mor.services.staff import add_account
from mor.web.dates import long_day
from mor.web.i18n import translations
from tests.auth.people import PASSWORD
from tests.scheduling.centre import BANGKOK, MadeCentre, make_centre, patient_caller


class Outbox:
    def __init__(self, failing: bool = False) -> None:
        self.sent: list[tuple[str, str, str]] = []
        self.failing = failing

    async def send(self, to: str, subject: str, text: str) -> None:
        if self.failing:
            raise SendFailed("the SMS gateway is down")
        self.sent.append((to, subject, text))


def reminders(store: Any, sms: Outbox, email: Outbox | None = None) -> Reminders:
    return Reminders(store, email or Outbox(), sms, BANGKOK,
                     lambda language, text: str(translations(language).gettext(text)),
                     lambda moment, language: long_day(moment.date(), language, "ce"),
                     "https://mor.test/appointments")


async def booked_tomorrow(store: Any, language: str, made: MadeCentre | None = None
                          ) -> tuple[datetime, str, Any]:
    made = made or await make_centre(store)
    caller, patient_id = await patient_caller(store)
    async with store.writing(EVERYTHING) as tx:
        current = await tx.read("Patient", patient_id)
        await tx.update("Patient", patient_id, {**current.resource(), "telecom": [
            {"system": "phone", "value": "+856 20 5555 1234", "use": "mobile"}],
            "communication": [{"language": {"coding": [
                {"system": "urn:ietf:bcp:47", "code": language}]}, "preferred": True}]})
    tomorrow = datetime.combine(datetime.now(BANGKOK).date() + timedelta(days=1), time(0),
                                BANGKOK)
    slot = (await free_times(store, made.service.id, tomorrow, tomorrow + timedelta(
        days=1)))[0]
    booking = await book(store, caller, patient_id, slot.slot_id)
    return slot.start, booking.appointment_id, (caller, patient_id)


async def test_each_appointment_is_reminded_once_in_the_patients_language(
        client: httpx.AsyncClient) -> None:
    store = client.app.state.store  # type: ignore[attr-defined]
    start, appointment_id, _ = await booked_tomorrow(store, "lo")
    sms = Outbox()
    day_before = start - timedelta(hours=23)
    assert await reminders(store, sms).send_due(start - timedelta(hours=25)) == 0
    assert await reminders(store, sms).send_due(day_before) == 1
    assert await reminders(store, sms).send_due(day_before) == 0
    (to, subject, text), = sms.sent
    assert subject == "ນັດຂອງທ່ານມື້ອື່ນ"
    assert to == "+856 20 5555 1234"
    assert "ກວດພະຍາດທົ່ວໄປ" in text and "09:00" in text  # general practice, in Lao
    assert "https://mor.test/appointments" in text
    kept = (await client.get("/Communication", params={
        "based-on": f"Appointment/{appointment_id}"})).json()["entry"]
    assert [e["resource"]["status"] for e in kept] == ["completed"]
    assert kept[0]["resource"]["payload"][0]["contentString"] == text


async def test_a_failed_message_is_recorded_and_a_cancelled_visit_not_reminded(
        client: httpx.AsyncClient) -> None:
    store = client.app.state.store  # type: ignore[attr-defined]
    start, appointment_id, _ = await booked_tomorrow(store, "th")
    assert await reminders(store, Outbox(failing=True)).send_due(
        start - timedelta(hours=23)) == 0
    kept = (await client.get("/Communication", params={
        "based-on": f"Appointment/{appointment_id}"})).json()["entry"]
    assert kept[0]["resource"]["status"] == "not-done"
    assert kept[0]["resource"]["statusReason"]["text"] == "the SMS gateway is down"

    start, appointment_id, (caller, patient_id) = await booked_tomorrow(store, "th")
    await cancel(store, caller, patient_id, appointment_id)
    sms = Outbox()
    assert await reminders(store, sms).send_due(start - timedelta(hours=23)) == 0
    assert sms.sent == []


async def test_appointments_on_a_closed_day_are_cancelled_and_each_patient_told_once(
        client: httpx.AsyncClient) -> None:
    store = client.app.state.store  # type: ignore[attr-defined]
    made = await make_centre(store)
    start, appointment_id, _ = await booked_tomorrow(store, "lo", made)
    day = start.astimezone(BANGKOK).date()
    admin = await person_caller(store, await add_account(
        store, f"admin-{uuid.uuid4().hex[:6]}", PASSWORD, Role.CENTRE_ADMIN,
        organizations=(made.centre.id,)))
    with pytest.raises(ValueError, match="only on a day the centre is closed"):
        await cancel_booked_on(store, admin, made.centre.id, day, "", BANGKOK)
    await close_day(store, made.admin, made.centre.id, day, "Songkran", BANGKOK)
    # An administrator of no centre in particular is not this centre's.
    with pytest.raises(ValueError, match="only the centre's administrators"):
        await cancel_booked_on(store, made.admin, made.centre.id, day, "", BANGKOK)

    cancelled = await cancel_booked_on(store, admin, made.centre.id, day, "Songkran",
                                       BANGKOK)
    assert [b.appointment_id for b in cancelled] == [appointment_id]
    appointment = (await client.get(f"/Appointment/{appointment_id}")).json()
    assert appointment["status"] == "cancelled"
    assert appointment["cancelationReason"]["coding"][0]["code"] == "prov"
    assert appointment["cancelationReason"]["text"] == "Songkran"
    slot = (await client.get(f"/{appointment['slot'][0]['reference']}")).json()
    assert slot["status"] == "busy-unavailable"  # not bookable: the centre is closed
    assert await free_times(store, made.service.id, start - timedelta(hours=9),
                            start + timedelta(hours=12)) == []

    sms = Outbox()
    assert await reminders(store, sms).tell_cancelled(cancelled[0], "Songkran")
    assert not await reminders(store, sms).tell_cancelled(cancelled[0], "Songkran")
    (to, subject, text), = sms.sent
    assert to == "+856 20 5555 1234"
    assert subject == str(translations("lo").gettext("Your appointment is cancelled"))
    assert subject != "Your appointment is cancelled"
    assert "Songkran" in text and "09:00" in text and "https://mor.test/appointments" in text
    # Told, not reminded: the cancelled visit gets no reminder the day before.
    assert await reminders(store, sms).send_due(start - timedelta(hours=23)) == 0
    assert len(sms.sent) == 1
