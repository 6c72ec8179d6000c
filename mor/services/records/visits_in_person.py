"""A visit at the health centre, without video: the clinician opens it from the day's
list and writes its note as for a video consult. It is an ``Encounter`` (``class``
v3-ActCode ``AMB``, ambulatory) of the booked ``Appointment``, the clinician its
participant; the appointment is marked ``arrived``. Opening it again, or twice at once,
gives the same visit."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

from mor.auth.policy import Principal
from mor.fhir.access_records import record_with_write
from mor.fhir.errors import Gone, NotFound, PreconditionFailed
from mor.fhir.permissions import Access
from mor.fhir.store import Store, Transaction
from mor.fhir.visibility import EVERYTHING
from mor.messages import N_
from mor.services.records.signing import VisitRefused, clinician_of, took_part
from mor.services.scheduling.booking import booking_of
from mor.services.scheduling.centres import get_centre
from mor.services.scheduling.day_lists import centres_of
from mor.services.scheduling.lookup import find
from mor.services.video.consults import participant

ACT_CODE: Final = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
AMBULATORY: Final = {"system": ACT_CODE, "code": "AMB", "display": "ambulatory"}
_OPENABLE: Final = frozenset({"booked", "arrived", "checked-in", "fulfilled"})


async def open_visit(store: Store, caller: Principal, centre_id: str, appointment_id: str,
                     *, now: datetime | None = None) -> str:
    """The visit of a booked appointment at the caller's centre, opened by the caller (a
    doctor or nurse there); returns its Encounter id."""
    practitioner_id = clinician_of(caller)
    if centre_id not in centres_of(caller):
        raise VisitRefused(N_("This list is for the staff of this health centre"))
    centre = await get_centre(store, centre_id)
    at = (now or datetime.now(UTC)).replace(microsecond=0).isoformat()
    for _ in range(3):  # two clinicians at once: the second finds the first's visit
        try:
            async with store.writing(EVERYTHING) as tx:
                appointment = await _appointment(tx, appointment_id, centre.location_id)
                found = await find(tx, "Encounter", [
                    ("appointment", f"Appointment/{appointment_id}")])
                if found:
                    return await _joined(tx, caller, found[0], practitioner_id, at)
                encounter = await tx.create(_encounter(appointment, centre_id,
                                                       practitioner_id, at))
                # Written on the version read, always: of two clinicians opening it at
                # once, one writes, the other finds the visit on its second try.
                changed = dict(appointment)
                if changed["status"] == "booked":
                    changed["status"] = "arrived"
                await tx.update("Appointment", appointment_id, changed,
                                if_match=int(appointment["meta"]["versionId"]))
                await record_with_write(tx, caller, Access("POST", "Encounter", "", 201))
                return encounter.id
        except PreconditionFailed:
            continue
    raise VisitRefused(N_("Someone else opened this visit at the same moment; try again"))


async def _appointment(tx: Transaction, appointment_id: str, location_id: str | None
                       ) -> dict[str, Any]:
    try:
        appointment = (await tx.read("Appointment", appointment_id)).resource()
    except (NotFound, Gone):
        raise VisitRefused(N_("There is no such appointment")) from None
    booking = booking_of(appointment)
    if booking.location_id != location_id:
        raise VisitRefused(N_("There is no such appointment"))
    if booking.video:
        raise VisitRefused(N_("This is a video consultation: admit the patient from the "
                              "video waiting list, and write the note beside the call"))
    if appointment["status"] not in _OPENABLE:
        raise VisitRefused(N_("This appointment was cancelled or closed already"))
    return appointment


async def _joined(tx: Transaction, caller: Principal, encounter: dict[str, Any],
                  practitioner_id: str, at: str) -> str:
    """The visit someone opened already; the caller becomes its participant too (a nurse
    takes the vital signs, the doctor then sees the patient)."""
    if not took_part(encounter, practitioner_id):
        changed = dict(encounter)
        changed["participant"] = [*encounter.get("participant", []),
                                  participant(practitioner_id, at)]
        await tx.update("Encounter", encounter["id"], changed,
                        if_match=int(encounter["meta"]["versionId"]))
        await record_with_write(tx, caller, Access("PUT", f"Encounter/{encounter['id']}",
                                                   "", 200))
    return str(encounter["id"])


def _encounter(appointment: dict[str, Any], centre_id: str, practitioner_id: str,
               at: str) -> dict[str, Any]:
    booking = booking_of(appointment)
    encounter: dict[str, Any] = {
        "resourceType": "Encounter", "status": "in-progress",
        "statusHistory": [{"status": "in-progress", "period": {"start": at}}],
        "class": dict(AMBULATORY),
        "subject": {"reference": f"Patient/{booking.patient_id}"},
        "appointment": [{"reference": f"Appointment/{appointment['id']}"}],
        "participant": [participant(practitioner_id, at)],
        "period": {"start": at},
        "serviceProvider": {"reference": f"Organization/{centre_id}"},
    }
    if appointment.get("serviceType"):
        encounter["serviceType"] = appointment["serviceType"][0]
    if booking.location_id:
        encounter["location"] = [{"location": {"reference": f"Location/{booking.location_id}"}}]
    return encounter

