"""Where a visit's note stands for the clinician on the consultation screen: whether
they may write it (they saw the patient in this visit), and whether it is signed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from mor.auth.policy import Principal
from mor.fhir.errors import NotFound
from mor.fhir.store import Store
from mor.fhir.visibility import EVERYTHING
from mor.services import fhir_calls
from mor.services.records import visit_composition
from mor.services.records.signing import VisitRefused, clinician_of, took_part
from mor.services.records.visit_orders import REFERRAL, TASK_SYSTEM, VERIFY
from mor.services.records.vital_signs import LOINC
from mor.services.scheduling.lookup import reference_id


@dataclass(frozen=True, slots=True)
class SignedNote:
    composition_id: str
    signed_at: datetime | None
    documents: tuple[tuple[str, str], ...]  # (DocumentReference id, title)
    # What the pharmacist asks of its prescription, while it waits for an answer.
    questions: tuple[Question, ...] = ()
    # A prescription or a referral: the visit has a document to print.
    has_documents_to_make: bool = False


@dataclass(frozen=True, slots=True)
class Question:
    task_id: str  # the pharmacist's Task
    encounter_id: str
    text: str


async def may_write_note(store: Store, caller: Principal, encounter_id: str) -> bool:
    """Whether the caller is a doctor or nurse who saw the patient in this visit. Reads
    only the visit's participants, nothing of the patient's record, so nothing is
    audited: the draft is saved every few seconds."""
    try:
        practitioner_id = clinician_of(caller)
    except VisitRefused:
        return False
    async with store.reading(EVERYTHING) as tx:
        try:
            encounter = (await tx.read("Encounter", encounter_id)).resource()
        except NotFound:
            return False
    return took_part(encounter, practitioner_id)


async def patient_of_visit(store: Store, encounter_id: str) -> str | None:
    """The id of the visit's patient (whose record the page then reads as the caller)."""
    async with store.reading(EVERYTHING) as tx:
        try:
            encounter = (await tx.read("Encounter", encounter_id)).resource()
        except NotFound:
            return None
    return reference_id(encounter.get("subject"), "Patient")


async def signed_note(store: Store, caller: Principal, encounter_id: str
                      ) -> SignedNote | None:
    """The visit's signed note and its documents, read as the caller (audited)."""
    notes = await fhir_calls.search(store, caller, "Composition", [
        ("encounter", f"Encounter/{encounter_id}"), ("status", "final"),
        ("type", f"{LOINC}|{visit_composition.CONSULT_NOTE[0]}"), ("_count", "1")])
    if not notes:
        return None
    note = notes[0]
    documents = await fhir_calls.search(store, caller, "DocumentReference", [
        ("encounter", f"Encounter/{encounter_id}"), ("status", "current"),
        ("_count", "20")])
    tasks = await fhir_calls.search(store, caller, "Task", [
        ("encounter", f"Encounter/{encounter_id}"),
        ("code", f"{TASK_SYSTEM}|{VERIFY},{TASK_SYSTEM}|{REFERRAL}")])
    held = [t for t in tasks if t.get("status") == "on-hold" and _code(t) == VERIFY]
    return SignedNote(
        composition_id=note["id"],
        signed_at=datetime.fromisoformat(note["date"]) if note.get("date") else None,
        documents=tuple((d["id"], str(d.get("description") or _title(d)))
                        for d in documents),
        questions=tuple(_question(t, encounter_id) for t in held),
        has_documents_to_make=bool(tasks))


async def open_questions(store: Store, caller: Principal) -> list[Question]:
    """The pharmacists' questions about the caller's prescriptions, waiting for their
    answer, oldest first."""
    account = caller.account
    if account is None or not account.fhir_user:
        return []
    held = await fhir_calls.search(store, caller, "Task", [
        ("requester", account.fhir_user), ("code", f"{TASK_SYSTEM}|{VERIFY}"),
        ("status", "on-hold"), ("_sort", "_lastUpdated")])
    return [_question(t, reference_id(t.get("encounter"), "Encounter") or "") for t in held]


def _code(task: dict[str, object]) -> str | None:
    concept = task.get("code")
    codings = concept.get("coding") if isinstance(concept, dict) else None
    return next((str(c.get("code")) for c in codings or ()
                 if isinstance(c, dict) and c.get("system") == TASK_SYSTEM), None)


def _question(task: dict[str, object], encounter_id: str) -> Question:
    reason = task.get("statusReason")
    text = reason.get("text", "") if isinstance(reason, dict) else ""
    return Question(str(task["id"]), encounter_id, str(text))


def _title(document: dict[str, object]) -> str:
    contents = document.get("content")
    if isinstance(contents, list) and contents:
        attachment = contents[0].get("attachment") or {}
        return str(attachment.get("title", ""))
    return ""
