"""Video consultations: the patient waits in a health centre's virtual waiting room, a
doctor or nurse of the centre admits them, may hand them to a colleague, and ends it.

A consult is a FHIR R4 ``Encounter``:

- ``class`` v3-ActCode ``VR`` (virtual); ``appointment`` the booked ``Appointment``
  (none for a walk-in); ``subject`` the Patient; ``serviceProvider`` the centre's
  Organization and ``location`` its Location; ``serviceType`` the appointment's.
- ``status`` ``arrived`` while the patient waits, ``in-progress`` while a clinician
  sees them, then ``finished``; ``cancelled`` when nobody saw them before it ended.
  ``statusHistory`` holds every status with its period, the current one last and
  open, so the waiting room's times are read from the Encounter alone: arrival (the
  first ``arrived``), each admission (``in-progress``), the end (``finished``).
  ``period`` runs from the arrival to the end.
- ``participant``: each clinician responsible for the patient, type v3-ParticipationType
  ``PPRF`` (primary performer) over the ``period`` they were. The one responsible now
  (or waited for: the booked clinician, or the colleague handed to) has an open period;
  the others' periods end when they handed the patient over or someone else admitted
  them. Who may join the call is read from these: the patient and the open entries.

Every change is one transaction on the version read (``If-Match``), with the
Appointment's status (``arrived``, then ``fulfilled``) and the audit record, so a
change that fails leaves nothing half done, and two clinicians pressing "admit" at once
admit the patient once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

from mor.auth import audit
from mor.auth.policy import Principal
from mor.auth.roles import Role
from mor.fhir.access_records import record_with_write
from mor.fhir.errors import Gone, NotFound, PreconditionFailed
from mor.fhir.permissions import Access
from mor.fhir.store import Store, StoredResource, Transaction
from mor.fhir.visibility import EVERYTHING
from mor.messages import N_
from mor.services.person_names import display_name
from mor.services.scheduling.booking import booking_of
from mor.services.scheduling.centres import CentreNotFound, get_centre
from mor.services.scheduling.day_lists import centres_of
from mor.services.scheduling.lookup import find, reference_id
from mor.services.scheduling.rosters import clinicians_of

log = logging.getLogger(__name__)

ACT_CODE: Final = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
VIRTUAL: Final = {"system": ACT_CODE, "code": "VR", "display": "virtual"}
PARTICIPATION_TYPE: Final = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
PRIMARY_PERFORMER: Final = {"system": PARTICIPATION_TYPE, "code": "PPRF",
                            "display": "primary performer"}
OPEN_STATUSES: Final = ("arrived", "in-progress")
# The expected length of a consult whose appointment does not say (a walk-in).
DEFAULT_CONSULT_MINUTES: Final = 15
# Those who see patients by video; a pharmacist works at the centre but does not.
CONSULTING_ROLES: Final = frozenset({Role.DOCTOR, Role.NURSE})
_VIRTUAL_TOKEN: Final = f"{ACT_CODE}|VR"
# Appointments a patient can still come to.
_COMING: Final = frozenset({"booked", "arrived", "checked-in"})


@dataclass(frozen=True, slots=True)
class Consult:
    encounter_id: str
    appointment_id: str | None  # None for a walk-in
    patient_id: str
    status: str  # "arrived" (waiting), "in-progress", "finished", "cancelled"
    arrived_at: datetime  # when they entered the waiting room (first arrival)
    admitted_at: datetime | None  # latest admission
    ended_at: datetime | None
    clinician_id: str | None  # Practitioner id responsible now (or waited for)
    centre_id: str | None  # Organization id
    # Start of the latest 'arrived' status (after a hand-over: the hand-over time).
    waiting_since: datetime


@dataclass(frozen=True, slots=True)
class Waiting:
    consult: Consult
    patient_name: str
    since: datetime


@dataclass(frozen=True, slots=True)
class QueuePlace:
    place: int  # 1 = next; 0 = not waiting (being seen, or ended)
    ahead: int  # patients before them
    expected_wait: timedelta


class ConsultRefused(Exception):
    """Nothing was done; ``reason`` (translatable) says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ConsultNotFound(ConsultRefused, LookupError):
    """There is no video consult with this id."""

    def __init__(self) -> None:
        super().__init__(N_("There is no such video consultation"))


# -- the patient ------------------------------------------------------------------------

async def arrive(store: Store, caller: Principal, appointment_id: str, *,
                 now: datetime | None = None, zone: ZoneInfo) -> Consult:
    """The patient of a booked appointment enters the waiting room, on the day of the
    appointment. Opening it again (a reload, a second device) finds the same consult."""
    at = _moment(now)
    with _conflicts_refused():
        async with store.writing(EVERYTHING) as tx:
            # Two tabs opening at once wait for each other, so the second finds the first's.
            await tx.lock_criteria("Encounter", f"appointment=Appointment/{appointment_id}")
            try:
                stored = await tx.read("Appointment", appointment_id)
            except (NotFound, Gone):
                raise ConsultRefused(N_("You have no such appointment")) from None
            appointment = stored.resource()
            booking = booking_of(appointment)
            if not _acts_for(caller, booking.patient_id):
                raise ConsultRefused(N_("You have no such appointment"))
            found = await _open_encounters(tx, [
                ("appointment", f"Appointment/{appointment_id}")])
            if found:
                return consult_of(found[0])
            _check_may_open(appointment, at, zone)
            centre_id = await _centre_of_location(tx, booking.location_id)
            encounter = _new_encounter(booking.patient_id, centre_id, booking.location_id,
                                       at, appointment=appointment,
                                       practitioner_id=booking.practitioner_id)
            created = await tx.create(encounter)
            if appointment["status"] == "booked":
                await tx.update("Appointment", appointment_id, appointment | {
                    "status": "arrived"}, if_match=stored.version_id)
            await record_with_write(tx, caller, Access("POST", "Encounter", "", 201))
    return consult_of(created.resource())


async def walk_in(store: Store, caller: Principal, patient_id: str, centre_id: str, *,
                  now: datetime | None = None) -> Consult:
    """A video consult the same day without a booking: the patient waits at the centre
    for whichever of its doctors and nurses admits them first."""
    at = _moment(now)
    if not _acts_for(caller, patient_id):
        raise ConsultRefused(_PATIENTS_OPEN)
    try:
        centre = await get_centre(store, centre_id)
    except CentreNotFound:
        raise ConsultRefused(N_("There is no such health centre")) from None
    if not centre.active:
        raise ConsultRefused(N_("There is no such health centre"))
    with _conflicts_refused():
        async with store.writing(EVERYTHING) as tx:
            await tx.lock_criteria("Encounter", f"subject=Patient/{patient_id}"
                                                f"&service-provider=Organization/{centre_id}")
            found = await _open_encounters(tx, [
                ("subject", f"Patient/{patient_id}"),
                ("service-provider", f"Organization/{centre_id}"),
                ("appointment:missing", "true")])
            if found:
                return consult_of(found[0])
            created = await tx.create(_new_encounter(
                patient_id, centre_id, centre.location_id, at, appointment=None,
                practitioner_id=None))
            await record_with_write(tx, caller, Access("POST", "Encounter", "", 201))
    return consult_of(created.resource())


# -- the clinicians ---------------------------------------------------------------------

async def admit(store: Store, caller: Principal, encounter_id: str, *,
                now: datetime | None = None) -> Consult:
    """A doctor or nurse of the centre takes the waiting patient into the call and
    becomes responsible for them."""
    at = _moment(now)
    with _conflicts_refused():
        async with store.writing(EVERYTHING) as tx:
            stored = await _read_encounter(tx, encounter_id)
            encounter = stored.resource()
            consult = consult_of(encounter)
            practitioner_id = _clinician_at(caller, consult.centre_id)
            if practitioner_id is None:
                raise ConsultRefused(N_("Only the doctors and nurses of this health centre "
                                        "can admit its patients"))
            if consult.status != "arrived":
                raise ConsultRefused(_NOT_WAITING)
            changed = _with_responsible(_with_status(encounter, "in-progress", at),
                                        practitioner_id, at)
            updated = await _save(tx, stored, changed)
            await record_with_write(tx, caller, Access(
                "PUT", f"Encounter/{encounter_id}", "", 200))
    return consult_of(updated)


async def hand_over(store: Store, caller: Principal, encounter_id: str,
                    practitioner_id: str, *, now: datetime | None = None) -> Consult:
    """The clinician seeing the patient hands them to a colleague of the centre (a
    nurse's triage, then the doctor): the patient waits again, now for the colleague,
    and the caller leaves the consult."""
    at = _moment(now)
    async with store.reading(EVERYTHING) as tx:
        consult = consult_of((await _read_encounter(tx, encounter_id)).resource())
    caller_id = _clinician_at(caller, consult.centre_id)
    if caller_id is None or consult.clinician_id != caller_id:
        raise ConsultRefused(_NOT_RESPONSIBLE)
    if practitioner_id == caller_id:
        raise ConsultRefused(N_("Choose a colleague to hand the patient over to"))
    staff = {p for p, _name in await clinicians_of(store, consult.centre_id or "")}
    if practitioner_id not in staff:
        raise ConsultRefused(N_("Hand the patient over to a doctor or nurse of this "
                                "health centre"))
    with _conflicts_refused():
        async with store.writing(EVERYTHING) as tx:
            stored = await _read_encounter(tx, encounter_id)
            encounter = stored.resource()
            consult = consult_of(encounter)
            if consult.clinician_id != caller_id:
                raise ConsultRefused(_NOT_RESPONSIBLE)
            if consult.status != "in-progress":
                raise ConsultRefused(N_("Admit the patient before handing them over"))
            changed = _with_responsible(_with_status(encounter, "arrived", at),
                                        practitioner_id, at)
            updated = await _save(tx, stored, changed)
            await record_with_write(tx, caller, Access(
                "PUT", f"Encounter/{encounter_id}", "", 200))
    return consult_of(updated)


async def end(store: Store, caller: Principal, encounter_id: str, *,
              now: datetime | None = None) -> Consult:
    """End the consult, as the clinician responsible for the patient or as the patient
    leaving for good.

    A patient who was seen (admitted at least once) ends ``finished`` and their
    appointment ``fulfilled``. One nobody saw ends ``cancelled``: when the patient
    leaves, their appointment is ``booked`` again, so they may come back to it that day
    (a new consult); when the clinician ends it, the appointment is ``noshow``."""
    at = _moment(now)
    with _conflicts_refused():
        async with store.writing(EVERYTHING) as tx:
            stored = await _read_encounter(tx, encounter_id)
            encounter = stored.resource()
            consult = consult_of(encounter)
            as_patient = _acts_for(caller, consult.patient_id)
            clinician = _clinician_at(caller, consult.centre_id)
            took_part = clinician is not None and clinician in {
                _individual(p) for p in encounter.get("participant") or ()}
            if consult.status not in OPEN_STATUSES and (as_patient or took_part):
                raise ConsultRefused(N_("This video consultation has ended already"))
            responsible = clinician is not None and clinician == consult.clinician_id
            if not (as_patient or responsible) or consult.status not in OPEN_STATUSES:
                raise ConsultRefused(N_("Only the clinician responsible for this patient, "
                                        "or the patient, can end the consultation"))
            seen = consult.admitted_at is not None
            status = "finished" if seen else "cancelled"
            updated = await _save(tx, stored, _ended(encounter, status, at))
            if consult.appointment_id is not None:
                await _close_appointment(tx, consult.appointment_id, "fulfilled" if seen
                                         else "booked" if as_patient else "noshow")
            await record_with_write(tx, caller, Access(
                "PUT", f"Encounter/{encounter_id}", "", 200))
    return consult_of(updated)


# A consult nothing has happened to since before today, for this long, is left over: the
# patient gave up waiting, or the call ended without anyone pressing "end".
LEFT_OVER_AFTER: Final = timedelta(hours=4)
CLOSE_LEFT_OVER_SECONDS: Final = 3600


async def close_left_over(store: Store, zone: ZoneInfo, *, now: datetime | None = None
                          ) -> int:
    """Close the consults left open on an earlier day, so that they leave the waiting
    room and the day's figures count them: one nobody admitted ends ``cancelled`` (its
    appointment ``noshow``), a call nobody ended ``finished`` (its appointment
    ``fulfilled``), both at the close of the day of their last change. Returns how many
    it closed. Safe in several server processes at once: each consult is closed once."""
    at = _moment(now)
    today = datetime.combine(at.astimezone(zone).date(), time.min, zone)
    async with store.reading(EVERYTHING) as tx:
        found = await find(tx, "Encounter", [("status", ",".join(OPEN_STATUSES)),
                                             ("class", _VIRTUAL_TOKEN)])
    left = [e["id"] for e in found if _left_over(e, today, at)]
    closed = 0
    for encounter_id in left:
        try:
            async with store.writing(EVERYTHING) as tx:
                stored = await _read_encounter(tx, encounter_id)
                encounter = stored.resource()
                if not _left_over(encounter, today, at):
                    continue  # someone ended it, or it moved on, since the search
                consult = consult_of(encounter)
                seen = consult.admitted_at is not None
                last = _last_change(encounter)
                end = datetime.combine(last.astimezone(zone).date() + timedelta(days=1),
                                       time.min, zone)
                await _save(tx, stored,
                            _ended(encounter, "finished" if seen else "cancelled", end))
                if consult.appointment_id is not None:
                    await _close_appointment(tx, consult.appointment_id,
                                             "fulfilled" if seen else "noshow")
            closed += 1
        except PreconditionFailed:
            continue  # another server process closed it first
    return closed


async def close_left_over_forever(store: Store, zone: ZoneInfo) -> None:
    """Each hour, close_left_over."""
    while True:
        try:
            if closed := await close_left_over(store, zone):
                log.info("closed %d video consults left open on an earlier day", closed)
        except Exception:  # a failed round must not stop the next ones
            log.exception("closing the video consults left open failed; trying again later")
        await asyncio.sleep(CLOSE_LEFT_OVER_SECONDS)


def _left_over(encounter: dict[str, Any], today: datetime, now: datetime) -> bool:
    last = _last_change(encounter)
    return (encounter.get("status") in OPEN_STATUSES and last < today
            and now - last >= LEFT_OVER_AFTER)


def _last_change(encounter: dict[str, Any]) -> datetime:
    starts = [_parse(h["period"]["start"]) for h in encounter.get("statusHistory") or ()
              if isinstance(h, dict) and h.get("period", {}).get("start")]
    return max(starts, default=_parse(encounter["period"]["start"]))


async def colleagues(store: Store, caller: Principal, consult: Consult
                     ) -> list[tuple[str, str]]:
    """The doctors and nurses of the consult's centre the caller may hand the patient
    to, as (practitioner id, name), by name."""
    if consult.centre_id is None:
        return []
    own = _clinician_at(caller, consult.centre_id)
    return [(p, name) for p, name in await clinicians_of(store, consult.centre_id)
            if p != own]


# -- reading ----------------------------------------------------------------------------

async def get_consult(store: Store, encounter_id: str) -> Consult:
    async with store.reading(EVERYTHING) as tx:
        return consult_of((await _read_encounter(tx, encounter_id)).resource())


async def consult_of_appointment(store: Store, appointment_id: str) -> Consult | None:
    """The appointment's consult: the open one, else the latest that ended."""
    async with store.reading(EVERYTHING) as tx:
        found = await find(tx, "Encounter", [
            ("appointment", f"Appointment/{appointment_id}"), ("class", _VIRTUAL_TOKEN),
            ("_sort", "-date")], limit=20)
    consults = [consult_of(e) for e in found]
    return next((c for c in consults if c.status in OPEN_STATUSES),
                consults[0] if consults else None)


async def may_join(store: Store, caller: Principal, encounter_id: str) -> bool:
    """Whether the caller may join the consult's call and chat: its patient (or a family
    member acting for them), and the clinician responsible now; nobody once it ended."""
    try:
        async with store.reading(EVERYTHING) as tx:
            encounter = (await _read_encounter(tx, encounter_id)).resource()
    except ConsultNotFound:
        return False
    return joins(caller, encounter)


async def waiting_room(store: Store, centre_id: str, *, clinician_id: str | None = None,
                       caller: Principal | None = None) -> list[Waiting]:
    """The patients waiting at the centre, first waiting first. For a clinician: those
    waiting for them, and the walk-ins nobody is assigned to yet.

    Pass ``caller`` where the names are shown to a person: it must be a doctor or nurse
    of the centre, and the showing is recorded (an AuditEvent naming the patients).
    Without it nothing is recorded: for a change token that shows no names."""
    if caller is not None and _clinician_at(caller, centre_id) is None:
        raise ConsultRefused(N_("The waiting room is for the doctors and nurses of this "
                                "health centre"))
    async with store.reading(EVERYTHING) as tx:
        consults = await _waiting(tx, centre_id, clinician_id)
        ids = sorted({c.patient_id for c in consults})
        patients = await find(tx, "Patient", [("_id", ",".join(ids))]) if ids else []
    if caller is not None and ids:
        assert caller.account is not None
        await store.append(audit.patients_shown_event(
            agent=audit.person_agent(caller.account.fhir_user, caller.account.username,
                                     caller.address), patients=ids))
    names = {p["id"]: display_name(p) for p in patients}
    return [Waiting(c, names.get(c.patient_id, ""), c.waiting_since) for c in consults]


async def place_in_queue(store: Store, encounter_id: str, *, now: datetime | None = None
                         ) -> QueuePlace:
    """Where a waiting patient is in their clinician's queue (for a walk-in nobody is
    assigned to: the centre's), and how long they may expect to wait: each patient
    before them takes their appointment's length (DEFAULT_CONSULT_MINUTES for a
    walk-in), and the patient their clinician is seeing now what remains of theirs."""
    at = _moment(now)
    async with store.reading(EVERYTHING) as tx:
        consult = consult_of((await _read_encounter(tx, encounter_id)).resource())
        if consult.status != "arrived" or consult.centre_id is None:
            return QueuePlace(0, 0, timedelta(0))
        queue = await _waiting(tx, consult.centre_id, consult.clinician_id)
        ahead = [c for c in queue if (c.waiting_since, c.encounter_id) < (
            consult.waiting_since, consult.encounter_id)]
        seeing = [] if consult.clinician_id is None else [
            consult_of(e) for e in await find(tx, "Encounter", [
                ("service-provider", f"Organization/{consult.centre_id}"),
                ("status", "in-progress"), ("class", _VIRTUAL_TOKEN),
                ("participant", f"Practitioner/{consult.clinician_id}")])]
        seeing = [c for c in seeing if c.clinician_id == consult.clinician_id]
        lengths = await _lengths(tx, [*ahead, *seeing])
    wait = sum((lengths[c.encounter_id] for c in ahead), timedelta(0))
    for c in seeing:
        wait += max(timedelta(0), lengths[c.encounter_id] - (at - (c.admitted_at or at)))
    return QueuePlace(len(ahead) + 1, len(ahead), wait)


# -- the Encounter ----------------------------------------------------------------------

def consult_of(encounter: dict[str, Any]) -> Consult:
    history = [h for h in encounter.get("statusHistory") or () if isinstance(h, dict)]

    def starts(status: str) -> list[datetime]:
        return [_parse(h["period"]["start"]) for h in history
                if h.get("status") == status and h.get("period", {}).get("start")]

    period = encounter.get("period") or {}
    # One written by another FHIR client may lack the history mor keeps.
    arrived = starts("arrived") or [_parse(period.get("start") or encounter["meta"][
        "lastUpdated"])]
    admitted = starts("in-progress")
    appointments = [a for r in encounter.get("appointment") or ()
                    if (a := reference_id(r, "Appointment"))]
    return Consult(
        encounter_id=encounter["id"],
        appointment_id=appointments[0] if appointments else None,
        patient_id=reference_id(encounter.get("subject"), "Patient") or "",
        status=encounter["status"],
        arrived_at=arrived[0],
        admitted_at=admitted[-1] if admitted else None,
        ended_at=_parse(period["end"]) if period.get("end") else None,
        clinician_id=_responsible(encounter),
        centre_id=reference_id(encounter.get("serviceProvider"), "Organization"),
        waiting_since=arrived[-1],
    )


def joins(caller: Principal, encounter: dict[str, Any]) -> bool:
    """may_join, for an Encounter read already (in the transaction that acts on it)."""
    if encounter.get("status") not in OPEN_STATUSES:
        return False
    consult = consult_of(encounter)
    if _acts_for(caller, consult.patient_id):
        return True
    practitioner_id = _clinician_at(caller, consult.centre_id)
    return practitioner_id is not None and practitioner_id in _open_participants(encounter)


async def read_encounter(tx: Transaction, encounter_id: str) -> StoredResource:
    """The consult's Encounter; ConsultNotFound for any other id, or an Encounter that
    is no video consult."""
    return await _read_encounter(tx, encounter_id)


def sender_of(caller: Principal, patient_id: str) -> str | None:
    """How the caller is named as a participant of the patient's consult: their Patient,
    the RelatedPerson they act through, or their Practitioner."""
    account = caller.account
    if account is None or account.fhir_user is None:
        return None
    if account.role is Role.PATIENT and account.fhir_user_id != patient_id:
        related = caller.proxies.get(patient_id)
        return f"RelatedPerson/{related}" if related else None
    return account.fhir_user


def _new_encounter(patient_id: str, centre_id: str | None, location_id: str | None,
                   at: datetime, *, appointment: dict[str, Any] | None,
                   practitioner_id: str | None) -> dict[str, Any]:
    start = _instant(at)
    encounter: dict[str, Any] = {
        "resourceType": "Encounter", "status": "arrived",
        "statusHistory": [{"status": "arrived", "period": {"start": start}}],
        "class": dict(VIRTUAL),
        "subject": {"reference": f"Patient/{patient_id}"},
        "period": {"start": start},
    }
    if appointment is not None:
        encounter["appointment"] = [{"reference": f"Appointment/{appointment['id']}"}]
        if appointment.get("serviceType"):
            encounter["serviceType"] = appointment["serviceType"][0]
    if practitioner_id is not None:
        encounter["participant"] = [participant(practitioner_id, start)]
    if location_id is not None:
        encounter["location"] = [{"location": {"reference": f"Location/{location_id}"}}]
    if centre_id is not None:
        encounter["serviceProvider"] = {"reference": f"Organization/{centre_id}"}
    return encounter


def participant(practitioner_id: str, start: str) -> dict[str, Any]:
    return {"type": [{"coding": [dict(PRIMARY_PERFORMER)]}], "period": {"start": start},
            "individual": {"reference": f"Practitioner/{practitioner_id}"}}


def _with_status(encounter: dict[str, Any], status: str, at: datetime) -> dict[str, Any]:
    moment = _instant(at)
    history = [dict(h) for h in encounter.get("statusHistory") or ()]
    if history and not history[-1].get("period", {}).get("end"):
        history[-1]["period"] = {**history[-1]["period"], "end": moment}
    history.append({"status": status, "period": {"start": moment}})
    return encounter | {"status": status, "statusHistory": history}


def _with_responsible(encounter: dict[str, Any], practitioner_id: str, at: datetime
                      ) -> dict[str, Any]:
    """The encounter with ``practitioner_id`` the one responsible from ``at``: anyone
    else's open participation ends; theirs, if open already, goes on."""
    moment = _instant(at)
    kept = []
    still_theirs = False
    for entry in encounter.get("participant") or ():
        if _is_open(entry) and _individual(entry) == practitioner_id:
            still_theirs = True
            kept.append(entry)
        else:
            kept.extend(_closed([entry], moment))
    if not still_theirs:
        kept.append(participant(practitioner_id, moment))
    return encounter | {"participant": kept}


def _ended(encounter: dict[str, Any], status: str, at: datetime) -> dict[str, Any]:
    """The encounter ended at ``at`` with this status: nobody responsible any more."""
    changed = _with_status(encounter, status, at)
    changed["participant"] = _closed(changed.get("participant") or [], _instant(at))
    changed["period"] = {**changed["period"], "end": _instant(at)}
    return changed


def _closed(participants: list[dict[str, Any]], moment: str) -> list[dict[str, Any]]:
    return [entry | {"period": {**entry.get("period", {}), "end": moment}}
            if _is_open(entry) else entry for entry in participants]


def _responsible(encounter: dict[str, Any]) -> str | None:
    found = _open_participants(encounter)
    return found[-1] if found else None


def _open_participants(encounter: dict[str, Any]) -> list[str]:
    return [p for entry in encounter.get("participant") or ()
            if _is_open(entry) and _is_primary(entry) and (p := _individual(entry))]


def _is_open(entry: dict[str, Any]) -> bool:
    return not (entry.get("period") or {}).get("end")


def _is_primary(entry: dict[str, Any]) -> bool:
    return any(c.get("system") == PARTICIPATION_TYPE and c.get("code") == "PPRF"
               for t in entry.get("type") or () for c in t.get("coding") or ())


def _individual(entry: dict[str, Any]) -> str | None:
    return reference_id(entry.get("individual"), "Practitioner")


# -- helpers ----------------------------------------------------------------------------

_PATIENTS_OPEN: Final = N_("Video consultations are opened by patients, or by family "
                           "members acting for them")
_NOT_RESPONSIBLE: Final = N_("Only the clinician responsible for this patient now can "
                              "hand them over")
_NOT_WAITING: Final = N_("This patient is not waiting any more: someone admitted them "
                         "already, or the consultation ended")


@contextmanager
def _conflicts_refused() -> Iterator[None]:
    # Another change of the same consult came first; its transaction is rolled back.
    try:
        yield
    except PreconditionFailed:
        raise ConsultRefused(N_("Someone changed this consultation at the same moment; "
                                "please try again")) from None


async def _read_encounter(tx: Transaction, encounter_id: str) -> StoredResource:
    try:
        stored = await tx.read("Encounter", encounter_id)
    except (NotFound, Gone):
        raise ConsultNotFound() from None
    if stored.resource().get("class", {}).get("code") != VIRTUAL["code"]:
        raise ConsultNotFound()
    return stored


async def _save(tx: Transaction, stored: StoredResource, changed: dict[str, Any]
                ) -> dict[str, Any]:
    updated, _ = await tx.update("Encounter", stored.id, changed,
                                 if_match=stored.version_id)
    return updated.resource()


async def _open_encounters(tx: Transaction, params: list[tuple[str, str]]
                           ) -> list[dict[str, Any]]:
    return await find(tx, "Encounter", [
        *params, ("class", _VIRTUAL_TOKEN), ("status", ",".join(OPEN_STATUSES))], limit=10)


async def _waiting(tx: Transaction, centre_id: str, clinician_id: str | None
                   ) -> list[Consult]:
    found = await find(tx, "Encounter", [
        ("service-provider", f"Organization/{centre_id}"), ("status", "arrived"),
        ("class", _VIRTUAL_TOKEN)])
    consults = sorted((consult_of(e) for e in found),
                      key=lambda c: (c.waiting_since, c.encounter_id))
    if clinician_id is None:
        return consults
    return [c for c in consults if c.clinician_id in (clinician_id, None)]


async def _lengths(tx: Transaction, consults: list[Consult]) -> dict[str, timedelta]:
    """How long each consult is expected to take: its appointment's length."""
    ids = sorted({c.appointment_id for c in consults if c.appointment_id})
    appointments = await find(tx, "Appointment", [("_id", ",".join(ids))]) if ids else []
    minutes = {a["id"]: a.get("minutesDuration") for a in appointments}
    return {c.encounter_id: timedelta(minutes=minutes.get(c.appointment_id or "")
                                      or DEFAULT_CONSULT_MINUTES) for c in consults}


async def _centre_of_location(tx: Transaction, location_id: str | None) -> str | None:
    if location_id is None:
        return None
    try:
        location = (await tx.read("Location", location_id)).resource()
    except (NotFound, Gone):
        return None
    return reference_id(location.get("managingOrganization"), "Organization")


async def _close_appointment(tx: Transaction, appointment_id: str, status: str) -> None:
    try:
        stored = await tx.read("Appointment", appointment_id)
    except (NotFound, Gone):
        return
    appointment = stored.resource()
    # One the centre closed meanwhile (marked seen, say, on its day list) stays so.
    if appointment.get("status") in _COMING:
        await tx.update("Appointment", appointment_id, appointment | {
            "status": status}, if_match=stored.version_id)


def _check_may_open(appointment: dict[str, Any], at: datetime, zone: ZoneInfo) -> None:
    status = appointment.get("status")
    if status == "cancelled":
        raise ConsultRefused(N_("This appointment was cancelled; book a new time to see "
                                "a clinician"))
    if status not in _COMING:
        raise ConsultRefused(N_("This appointment is over; book a new time to see a "
                                "clinician again"))
    day = datetime.fromisoformat(appointment["start"]).astimezone(zone).date()
    if day != at.astimezone(zone).date():
        raise ConsultRefused(N_("The video consultation opens on the day of your "
                                "appointment"))


def _acts_for(caller: Principal, patient_id: str) -> bool:
    account = caller.account
    return bool(patient_id) and account is not None and account.role is Role.PATIENT and (
        account.fhir_user_id == patient_id or patient_id in caller.proxies)


def _clinician_at(caller: Principal, centre_id: str | None) -> str | None:
    """The caller's Practitioner id, if they are a doctor or nurse of the centre."""
    account = caller.account
    if account is None or account.role not in CONSULTING_ROLES or centre_id is None or (
            centre_id not in centres_of(caller)):
        return None
    user = account.fhir_user or ""
    return user.removeprefix("Practitioner/") if user.startswith("Practitioner/") else None


def _moment(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError("now must say its time zone")
    return now


def _instant(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text)
