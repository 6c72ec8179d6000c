"""What a nurse or doctor does about an alert: acknowledge it, escalate it to a doctor,
message the patient, or book them a video consultation.

Each is written as that person through the FHIR interactions (their access rules, their
audit record), on the version of the alert the page showed: two nurses acting on the
same alert at once get one change and a clear message, never two.

- acknowledged: the ``Task`` is ``completed`` (businessStatus acknowledged, a note by
  whom), and its ``Flag`` on the record ends;
- escalated: the Task stays open, businessStatus escalated, ``performerType`` a medical
  practitioner, so doctors see it first on the worklist;
- a message is a ``Communication`` to the patient (category notification), about the
  alert, which the patient reads on their readings page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from mor.auth.policy import Principal
from mor.fhir.errors import FhirError, NotFound
from mor.fhir.store import Store
from mor.messages import N_, Refused
from mor.services import fhir_calls
from mor.services.monitoring.alerts import ALERT_CODE, OPEN_STATUSES, flag_id
from mor.services.monitoring.codes import MONITORING, coding
from mor.services.monitoring.worklist import ESCALATED, check_clinician_of
from mor.services.records.elements import moment_of
from mor.services.scheduling.lookup import reference_id

MAX_MESSAGE_CHARS: Final = 1000
_SNOMED: Final = "http://snomed.info/sct"
_COMMUNICATION_CATEGORY: Final = "http://terminology.hl7.org/CodeSystem/communication-category"
_MESSAGE_CATEGORY: Final = "home-monitoring-message"


class ActionRefused(Refused):
    """What the nurse cannot do about an alert, or the message they would send."""


@dataclass(frozen=True, slots=True)
class PatientMessage:
    id: str
    sent: datetime | None
    sender: str  # Practitioner/x
    text: str


def _moment(text: Any) -> datetime | None:
    moment = moment_of(text) if isinstance(text, str) else None
    return moment if isinstance(moment, datetime) else None


def _stamp(now: datetime) -> str:
    return now.isoformat(timespec="seconds")



async def _open_alert(store: Store, caller: Principal, centre_id: str, task_id: str
                      ) -> dict[str, Any]:
    check_clinician_of(caller, centre_id)
    try:
        task = await fhir_calls.read(store, caller, f"Task/{task_id}")
    except NotFound:
        raise ActionRefused(N_("There is no such alert, or it is not shared with you")
                            ) from None
    codes = {f"{c.get('system')}|{c.get('code')}" for c in (task.get("code") or {}).get(
        "coding") or ()}
    if ALERT_CODE not in codes or reference_id(task.get("owner"),
                                               "Organization") != centre_id:
        raise ActionRefused(N_("There is no such alert, or it is not shared with you"))
    if task.get("status") not in OPEN_STATUSES:
        raise ActionRefused(N_("Someone has dealt with this alert already"))
    return task


def _note(caller: Principal, text: str, now: datetime) -> dict[str, Any]:
    author = caller.account.fhir_user if caller.account else None
    note: dict[str, Any] = {"time": _stamp(now), "text": text}
    if author:
        note["authorReference"] = {"reference": author}
    return note


async def _write_alert(store: Store, caller: Principal, task: dict[str, Any],
                       changed: dict[str, Any], version: str,
                       flag: dict[str, Any] | None = None) -> None:
    writes = [(f"Task/{task['id']}", changed)]
    if flag is not None:
        writes.append((f"Flag/{flag['id']}", flag))
    try:
        await fhir_calls.transaction(store, caller, writes,
                                     if_match={f"Task/{task['id']}": version})
    except FhirError as error:
        if error.status == 412:
            raise ActionRefused(N_("Someone else acted on this alert at the same moment; "
                                   "look at it again")) from None
        raise


async def acknowledge(store: Store, caller: Principal, centre_id: str, task_id: str, *,
                      version: str, note: str, now: datetime) -> None:
    """The nurse has seen the alert and dealt with it: it leaves the worklist."""
    task = await _open_alert(store, caller, centre_id, task_id)
    changed = dict(task)
    changed["status"] = "completed"
    changed["businessStatus"] = {"coding": [coding(MONITORING, "acknowledged",
                                                    "Acknowledged")]}
    changed["lastModified"] = _stamp(now)
    if note.strip():
        changed["note"] = [*(task.get("note") or ()), _note(caller, note.strip(), now)]
    flag = None
    if (found := flag_id(task)) is not None:
        try:
            current = await fhir_calls.read(store, caller, f"Flag/{found}")
        except NotFound:
            current = None
        if current is not None and current.get("status") == "active":
            flag = {**current, "status": "inactive",
                    "period": {**(current.get("period") or {}), "end": _stamp(now)}}
    await _write_alert(store, caller, task, changed, version, flag)


async def escalate(store: Store, caller: Principal, centre_id: str, task_id: str, *,
                   version: str, note: str, now: datetime) -> None:
    """Ask a doctor of the centre to look: the alert stays open, marked for doctors."""
    task = await _open_alert(store, caller, centre_id, task_id)
    if not note.strip():
        raise ActionRefused(N_("Say what the doctor should look at"))
    changed = dict(task)
    changed["businessStatus"] = {"coding": [coding(MONITORING, ESCALATED,
                                                    "Escalated to a doctor")]}
    changed["performerType"] = [{"coding": [coding(_SNOMED, "158965000",
                                                   "Medical practitioner")]}]
    changed["lastModified"] = _stamp(now)
    changed["note"] = [*(task.get("note") or ()), _note(caller, note.strip(), now)]
    await _write_alert(store, caller, task, changed, version)


async def message_patient(store: Store, caller: Principal, centre_id: str,
                          patient_id: str, text: str, *, now: datetime,
                          task_id: str | None = None) -> str:
    """A message to the patient from the nurse, about an alert if ``task_id``; returns
    the Communication's id."""
    check_clinician_of(caller, centre_id)
    text = text.strip()
    if not text:
        raise ActionRefused(N_("Write the message first"))
    if len(text) > MAX_MESSAGE_CHARS:
        raise ActionRefused(N_("Keep the message shorter: a phone shows it as a text"))
    sender = caller.account.fhir_user if caller.account else None
    communication: dict[str, Any] = {
        "resourceType": "Communication", "status": "completed",
        "category": [{"coding": [coding(_COMMUNICATION_CATEGORY, "notification"),
                                 coding(MONITORING, _MESSAGE_CATEGORY,
                                        "Home monitoring message")]}],
        "subject": {"reference": f"Patient/{patient_id}"},
        "recipient": [{"reference": f"Patient/{patient_id}"}],
        "sent": _stamp(now), "payload": [{"contentString": text}]}
    if sender:
        communication["sender"] = {"reference": sender}
    if task_id:
        communication["about"] = [{"reference": f"Task/{task_id}"}]
    return await fhir_calls.create(store, caller, communication)


async def messages_to(store: Store, caller: Principal, patient_id: str, *, most: int = 20
                      ) -> list[PatientMessage]:
    """The health centre's messages to the patient about their readings, newest first."""
    found = await fhir_calls.search(store, caller, "Communication", [
        ("subject", f"Patient/{patient_id}"),
        ("category", f"{MONITORING}|{_MESSAGE_CATEGORY}"), ("_sort", "-sent"),
        ("_count", str(most))])
    return [PatientMessage(c["id"], _moment(c.get("sent")),
                           str((c.get("sender") or {}).get("reference", "")),
                           str(((c.get("payload") or [{}])[0]).get("contentString", "")))
            for c in found]
