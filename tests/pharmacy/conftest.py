"""A health centre with a doctor, a nurse and a pharmacist, and a visit signed with a
prescription for them to work on, on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from mor.auth.roles import Role
from mor.fhir.store import Store
from mor.services.prescribing.formulary import seed
from mor.services.records.signing import sign
from mor.services.video.consults import admit, walk_in
from tests.records.conftest import centre, store
from tests.records.patient_record import make_record
from tests.records.test_signing import FORMULARY, full_note, hospital
from tests.video.conftest import Centre, Person, clinician_at

__all__ = ["centre", "store"]


@dataclass(frozen=True, slots=True)
class Signed:
    task_id: str  # the pharmacist's Task
    encounter_id: str
    patient: Person
    written: tuple[str, ...]


@pytest.fixture
async def pharmacist(store: Store, centre: Centre) -> Person:
    return await clinician_at(store, centre.id, Role.PHARMACIST, "Pharmacist Nok")


async def signed_prescription(store: Store, centre: Centre) -> Signed:
    """A patient allergic to penicillin whom the doctor saw and prescribed amoxicillin
    (the allergy warning overridden) and paracetamol. As tests.records.test_signing's
    ``a_consult``, keeping the patient's own caller, for what the patient sees."""
    await seed(store)
    booked = await centre.booking(store)
    await make_record(store, None, patient_id=booked.patient.id)
    consult = await walk_in(store, booked.patient.caller, booked.patient.id, centre.id)
    await admit(store, centre.doctor.caller, consult.encounter_id)
    signed = await sign(store, centre.doctor.caller, consult.encounter_id,
                        full_note(await hospital(store)), formulary=FORMULARY,
                        language="th")
    assert signed.prescription_task_id is not None
    return Signed(signed.prescription_task_id, consult.encounter_id, booked.patient,
                  signed.written)


@pytest.fixture
async def prescription(store: Store, centre: Centre) -> Signed:
    return await signed_prescription(store, centre)
