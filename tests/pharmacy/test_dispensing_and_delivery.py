"""Dispensing and delivery, on SQLite and PostgreSQL: an accepted prescription becomes a
dispense per medicine and a delivery in one go; the delivery moves only forward, by the
steps its method allows; the patient reads its story."""

from __future__ import annotations

import pytest

from mor.auth.roles import Role
from mor.fhir.store import Store
from mor.fhir.validation import validate_resource
from mor.services.pharmacy.delivery import advance, delivery_story
from mor.services.pharmacy.dispensing import dispense
from mor.services.pharmacy.prescription import (
    NotThePharmacist,
    PharmacyRefused,
    WrongStep,
)
from mor.services.pharmacy.queue import pharmacy_queue
from mor.services.pharmacy.verification import accept
from tests.pharmacy.conftest import Signed, signed_prescription
from tests.pharmacy.helpers import current, of_patient, requests_of
from tests.video.conftest import Centre, Person, centre_with_staff, clinician_at


async def test_accept_dispense_and_deliver_gives_the_patient_a_story_of_four_steps(
        store: Store, centre: Centre, pharmacist: Person, prescription: Signed) -> None:
    await accept(store, pharmacist.caller, prescription.task_id)
    delivery_id = await dispense(store, pharmacist.caller, prescription.task_id, "rider",
                                 "RIDER-0042")
    under_way = (await pharmacy_queue(store, pharmacist.caller, centre.id)).under_way
    [listed] = [p for p in under_way if p.task_id == delivery_id]
    assert listed.delivery is not None and listed.delivery.status == "packed"
    assert listed.delivery.tracking == "RIDER-0042" and len(listed.medicines) == 2

    await advance(store, pharmacist.caller, delivery_id, "on-the-way")
    await advance(store, pharmacist.caller, delivery_id, "delivered")

    story = await delivery_story(store, prescription.patient.caller, delivery_id)
    assert [step.status for step in story] == ["checked", "packed", "on-the-way",
                                               "delivered"]
    assert all(step.when for step in story)
    assert [s.when for s in story] == sorted(s.when for s in story)
    assert await delivery_story(store, pharmacist.caller, delivery_id) == story

    delivery = await current(store, f"Task/{delivery_id}")
    assert delivery["status"] == "completed"
    assert delivery["for"] == {"reference": f"Patient/{prescription.patient.id}"}
    dispenses = await of_patient(store, "MedicationDispense", prescription.patient.id)
    assert len(dispenses) == 2
    assert {d["status"] for d in dispenses} == {"completed"}
    assert all(d["whenHandedOver"] and d["whenPrepared"] for d in dispenses)
    requests = await requests_of(store, prescription.task_id)
    assert [r["status"] for r in requests] == ["completed", "completed"]
    assert delivery_id not in {
        p.task_id for p in (await pharmacy_queue(store, pharmacist.caller,
                                                 centre.id)).under_way}
    for resource in [delivery, *dispenses, *requests,
                     await current(store, f"Task/{prescription.task_id}")]:
        validate_resource(resource)


async def test_a_dispense_is_what_was_prescribed(
        store: Store, pharmacist: Person, prescription: Signed) -> None:
    await accept(store, pharmacist.caller, prescription.task_id)
    delivery_id = await dispense(store, pharmacist.caller, prescription.task_id, "post",
                                 None)

    requests = {f"MedicationRequest/{r['id']}": r
                for r in await requests_of(store, prescription.task_id)}
    dispenses = await of_patient(store, "MedicationDispense", prescription.patient.id)
    for resource in dispenses:
        validate_resource(resource)
        request = requests[resource["authorizingPrescription"][0]["reference"]]
        assert resource["status"] == "in-progress"
        assert resource["medicationReference"] == request["medicationReference"]
        assert resource["quantity"] == request["dispenseRequest"]["quantity"]
        assert resource["dosageInstruction"] == request["dosageInstruction"]
        assert resource["performer"] == [{"actor": {
            "reference": f"Practitioner/{pharmacist.id}"}}]
        assert resource["context"] == {"reference": f"Encounter/{prescription.encounter_id}"}
        assert resource["subject"] == request["subject"]
    amoxicillin = next(d for d in dispenses if "amoxicillin" in str(d))
    assert amoxicillin["daysSupply"]["value"] == 7
    # Until handed over, the prescription is still being filled.
    assert {r["status"] for r in requests.values()} == {"active"}
    delivery = await current(store, f"Task/{delivery_id}")
    validate_resource(delivery)
    assert delivery["businessStatus"]["coding"] == [
        {"system": "urn:mor:delivery-status", "code": "packed"}]
    assert [i.get("valueCode") for i in delivery["input"]] == ["post"]
    assert sorted(b["reference"] for b in delivery["basedOn"]) == sorted(requests)
    with pytest.raises(WrongStep, match="dispensed already"):
        await dispense(store, pharmacist.caller, prescription.task_id, "post", None)
    assert len(await of_patient(store, "MedicationDispense",
                                prescription.patient.id)) == 2


async def test_dispensing_before_acceptance_is_refused_and_writes_nothing(
        store: Store, pharmacist: Person, prescription: Signed) -> None:
    before = await current(store, f"Task/{prescription.task_id}")

    with pytest.raises(WrongStep, match="accept the prescription before dispensing"):
        await dispense(store, pharmacist.caller, prescription.task_id, "rider", None)

    assert await current(store, f"Task/{prescription.task_id}") == before
    assert await of_patient(store, "MedicationDispense", prescription.patient.id) == []
    tasks = await of_patient(store, "Task", prescription.patient.id)
    assert "deliver-medicines" not in str(tasks)


async def test_only_a_pharmacist_dispenses_and_moves_deliveries(
        store: Store, centre: Centre, pharmacist: Person, prescription: Signed) -> None:
    await accept(store, pharmacist.caller, prescription.task_id)
    with pytest.raises(NotThePharmacist):
        await dispense(store, centre.nurse.caller, prescription.task_id, "rider", None)
    delivery_id = await dispense(store, pharmacist.caller, prescription.task_id, "pickup",
                                 None)
    for caller in (centre.doctor.caller, prescription.patient.caller):
        with pytest.raises(NotThePharmacist):
            await advance(store, caller, delivery_id, "ready-for-pickup")


@pytest.mark.parametrize(("method", "moves", "refused"), [
    ("rider", [], "delivered"),  # not on its way yet
    ("rider", [], "ready-for-pickup"),  # a rider brings it
    ("pickup", [], "on-the-way"),  # it waits at the centre
    ("pickup", ["ready-for-pickup"], "delivered"),
    ("post", ["on-the-way", "delivered"], "returned"),  # handed over is the end
    ("post", ["on-the-way"], "packed"),  # no going back
    ("post", [], "lost-in-space"),
    ("post", [], "checked"),
])
async def test_illegal_delivery_moves_are_refused(
        store: Store, pharmacist: Person, prescription: Signed, method: str,
        moves: list[str], refused: str) -> None:
    await accept(store, pharmacist.caller, prescription.task_id)
    delivery_id = await dispense(store, pharmacist.caller, prescription.task_id,
                                 method, None)  # type: ignore[arg-type]
    for move in moves:
        await advance(store, pharmacist.caller, delivery_id, move)
    before = await current(store, f"Task/{delivery_id}")

    with pytest.raises(WrongStep) as error:
        await advance(store, pharmacist.caller, delivery_id, refused)

    assert ("cannot become" in error.value.message
            or "not a step of a delivery" in error.value.message)
    assert error.value.params["to"]  # what to show, translated by the caller
    assert await current(store, f"Task/{delivery_id}") == before


async def test_a_picked_up_or_returned_delivery_ends_as_it_should(
        store: Store, centre: Centre, pharmacist: Person, prescription: Signed) -> None:
    await accept(store, pharmacist.caller, prescription.task_id)
    picked = await dispense(store, pharmacist.caller, prescription.task_id, "pickup", None)
    await advance(store, pharmacist.caller, picked, "ready-for-pickup")
    await advance(store, pharmacist.caller, picked, "picked-up")
    assert [s.status for s in await delivery_story(
        store, prescription.patient.caller, picked)] == [
        "checked", "packed", "ready-for-pickup", "picked-up"]
    assert (await current(store, f"Task/{picked}"))["status"] == "completed"

    other = await signed_prescription(store, centre)
    await accept(store, pharmacist.caller, other.task_id)
    returned = await dispense(store, pharmacist.caller, other.task_id, "rider", None)
    await advance(store, pharmacist.caller, returned, "on-the-way")
    await advance(store, pharmacist.caller, returned, "returned")
    task = await current(store, f"Task/{returned}")
    validate_resource(task)
    assert task["status"] == "failed"
    dispenses = await of_patient(store, "MedicationDispense", other.patient.id)
    assert {d["status"] for d in dispenses} == {"stopped"}
    assert {r["status"] for r in await requests_of(store, other.task_id)} == {"active"}


async def test_another_patient_or_centre_cannot_read_the_story(
        store: Store, centre: Centre, pharmacist: Person, prescription: Signed) -> None:
    await accept(store, pharmacist.caller, prescription.task_id)
    delivery_id = await dispense(store, pharmacist.caller, prescription.task_id, "rider",
                                 None)
    other = await signed_prescription(store, centre)
    with pytest.raises(PharmacyRefused, match="no such delivery"):
        await delivery_story(store, other.patient.caller, delivery_id)
    elsewhere = await centre_with_staff(store)
    stranger = await clinician_at(store, elsewhere.id, Role.PHARMACIST, "Pharmacist Dao")
    with pytest.raises(PharmacyRefused, match="no such delivery"):
        await delivery_story(store, stranger.caller, delivery_id)
    with pytest.raises(PharmacyRefused):
        await advance(store, stranger.caller, delivery_id, "on-the-way")

