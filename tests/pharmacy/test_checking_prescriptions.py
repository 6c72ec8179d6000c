"""The pharmacist's check, on SQLite and PostgreSQL: a signed prescription waits in the
centre's queue with the warning the prescriber overrode; the pharmacist accepts it or
queries it back; only a pharmacist of that centre may, and of two at once one wins."""

from __future__ import annotations

import asyncio

import pytest

from mor.auth.roles import Role
from mor.fhir.store import Store
from mor.fhir.validation import validate_resource
from mor.services.pharmacy import verification
from mor.services.pharmacy.prescription import (
    VERIFY_CODE,
    ChangedMeanwhile,
    NotThePharmacist,
    PharmacyRefused,
    WrongStep,
    load,
)
from mor.services.pharmacy.queue import pharmacy_queue, prescriptions_to_check
from mor.services.pharmacy.verification import accept, query_back
from tests.pharmacy.conftest import Signed
from tests.pharmacy.helpers import current, requests_of
from tests.video.conftest import Centre, Person, centre_with_staff, clinician_at


async def test_the_queue_shows_a_new_prescription_with_its_overridden_allergy_warning(
        store: Store, centre: Centre, pharmacist: Person, prescription: Signed) -> None:
    listed = await prescriptions_to_check(store, pharmacist.caller, centre.id)

    mine = next(p for p in listed if p.task_id == prescription.task_id)
    assert mine.patient_id == prescription.patient.id
    assert mine.patient_name == "Malee Test"
    assert mine.prescriber_name == "Dr Somchai"
    assert mine.prescriber_id == centre.doctor.id
    assert mine.authored_on
    assert sorted(m.name for m in mine.medicines) == ["Amoxicillin 500 mg",
                                                      "Paracetamol 500 mg"]
    amoxicillin = next(m for m in mine.medicines if m.name.startswith("Amoxicillin"))
    assert amoxicillin.quantity == 21
    assert amoxicillin.dosage == "ครั้งละ 1 แคปซูล วันละ 3 ครั้ง นาน 7 วัน"
    [warning] = mine.warnings
    assert warning.severity == "high" and "allergic" in warning.detail
    assert warning.by == "Dr Somchai" and warning.mitigation and warning.at
    assert mine.question is None and mine.delivery is None


async def test_accepting_completes_the_task_in_the_pharmacists_name(
        store: Store, centre: Centre, pharmacist: Person, prescription: Signed) -> None:
    await accept(store, pharmacist.caller, prescription.task_id)

    task = await current(store, f"Task/{prescription.task_id}")
    validate_resource(task)
    assert task["status"] == "completed"
    assert task["owner"] == {"reference": f"Practitioner/{pharmacist.id}"}
    queue = await pharmacy_queue(store, pharmacist.caller, centre.id)
    assert prescription.task_id not in {p.task_id for p in queue.to_check}
    assert prescription.task_id in {p.task_id for p in queue.to_dispense}
    with pytest.raises(WrongStep, match="checked already"):
        await accept(store, pharmacist.caller, prescription.task_id)


async def test_a_query_back_holds_the_requests_and_leaves_the_to_check_list(
        store: Store, centre: Centre, pharmacist: Person, prescription: Signed) -> None:
    question = "Amoxicillin for a penicillin allergy: did you mean azithromycin?"
    await query_back(store, pharmacist.caller, prescription.task_id, f"  {question} ")

    task = await current(store, f"Task/{prescription.task_id}")
    assert task["status"] == "on-hold"
    assert task["statusReason"] == {"text": question}
    requests = await requests_of(store, prescription.task_id)
    assert [r["status"] for r in requests] == ["on-hold", "on-hold"]
    for resource in [task, *requests]:
        validate_resource(resource)
    queue = await pharmacy_queue(store, pharmacist.caller, centre.id)
    assert prescription.task_id not in {p.task_id for p in queue.to_check}
    [held] = [p for p in queue.queried if p.task_id == prescription.task_id]
    assert held.question == question
    with pytest.raises(WrongStep, match="queried back already"):
        await query_back(store, pharmacist.caller, prescription.task_id, "And?")

    # The prescriber answered by phone: accepted after all, the medicines stand again.
    await accept(store, pharmacist.caller, prescription.task_id)
    task = await current(store, f"Task/{prescription.task_id}")
    assert task["status"] == "completed" and "statusReason" not in task
    assert [r["status"] for r in await requests_of(store, prescription.task_id)] == [
        "active", "active"]


async def test_an_empty_question_is_refused(store: Store, pharmacist: Person,
                                            prescription: Signed) -> None:
    with pytest.raises(WrongStep, match="Write the question"):
        await query_back(store, pharmacist.caller, prescription.task_id, "   ")
    assert (await current(store, f"Task/{prescription.task_id}"))["status"] == "requested"


@pytest.mark.parametrize("role", ["doctor", "nurse"])
async def test_a_doctor_or_a_nurse_cannot_verify(store: Store, centre: Centre,
                                                 prescription: Signed, role: str) -> None:
    caller = centre.doctor.caller if role == "doctor" else centre.nurse.caller
    with pytest.raises(NotThePharmacist, match="Only a pharmacist"):
        await accept(store, caller, prescription.task_id)
    with pytest.raises(NotThePharmacist):
        await query_back(store, caller, prescription.task_id, "Why?")
    with pytest.raises(NotThePharmacist):
        await prescriptions_to_check(store, caller, centre.id)
    assert (await current(store, f"Task/{prescription.task_id}"))["status"] == "requested"


async def test_a_pharmacist_of_another_centre_cannot_see_or_verify(
        store: Store, centre: Centre, prescription: Signed) -> None:
    other = await centre_with_staff(store)
    stranger = await clinician_at(store, other.id, Role.PHARMACIST, "Pharmacist Dao")

    with pytest.raises(NotThePharmacist):
        await prescriptions_to_check(store, stranger.caller, centre.id)
    theirs = await prescriptions_to_check(store, stranger.caller, other.id)
    assert prescription.task_id not in {p.task_id for p in theirs}
    with pytest.raises(PharmacyRefused, match="no such prescription"):
        await accept(store, stranger.caller, prescription.task_id)
    with pytest.raises(PharmacyRefused, match="no such prescription"):
        await query_back(store, stranger.caller, prescription.task_id, "Why?")
    assert (await current(store, f"Task/{prescription.task_id}"))["status"] == "requested"


async def test_of_two_accepts_at_once_one_wins_and_the_other_is_told(
        store: Store, centre: Centre, pharmacist: Person, prescription: Signed) -> None:
    colleague = await clinician_at(store, centre.id, Role.PHARMACIST, "Pharmacist Fon")

    results = await asyncio.gather(
        accept(store, pharmacist.caller, prescription.task_id),
        accept(store, colleague.caller, prescription.task_id), return_exceptions=True)

    refused = [r for r in results if isinstance(r, Exception)]
    assert len(refused) == 1 and isinstance(refused[0], ChangedMeanwhile | WrongStep)
    task = await current(store, f"Task/{prescription.task_id}")
    assert task["meta"]["versionId"] == "2"  # written once
    owner = task["owner"]["reference"]
    assert owner in {f"Practitioner/{pharmacist.id}", f"Practitioner/{colleague.id}"}


async def test_an_accept_on_a_stale_read_is_refused_and_writes_nothing(
        store: Store, centre: Centre, pharmacist: Person, prescription: Signed,
        monkeypatch: pytest.MonkeyPatch) -> None:
    colleague = await clinician_at(store, centre.id, Role.PHARMACIST, "Pharmacist Fon")
    # What the colleague read just before the pharmacist's accept landed.
    stale = await load(store, colleague.caller, prescription.task_id, VERIFY_CODE)
    await accept(store, pharmacist.caller, prescription.task_id)

    async def read_before(*_: object) -> object:
        return stale

    monkeypatch.setattr(verification, "load", read_before)
    with pytest.raises(ChangedMeanwhile) as refused:
        await query_back(store, colleague.caller, prescription.task_id, "Why?")
    assert "at the same moment" in refused.value.message
    task = await current(store, f"Task/{prescription.task_id}")
    assert task["status"] == "completed" and task["meta"]["versionId"] == "2"
    assert [r["status"] for r in await requests_of(store, prescription.task_id)] == [
        "active", "active"]
