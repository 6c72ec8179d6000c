"""The demo's signed visit: the first featured patient was seen yesterday at their health
centre, and the doctor's note and prescription wait for the pharmacist, so each role
finds something on its pages at once (the patient's visit summary, the pharmacy's
queue). Made through the signing service, as a doctor would sign it."""

from __future__ import annotations

import logging
from datetime import datetime, time, timedelta
from typing import Any, Final

from mor.auth.accounts import Accounts
from mor.auth.callers import person_caller
from mor.fhir.store import Store
from mor.fhir.visibility import EVERYTHING
from mor.services.demo.cities import City
from mor.services.documents.fonts import FontMissing
from mor.services.documents.visit_documents import write_visit_documents
from mor.services.prescribing.formulary import Formulary, seed
from mor.services.records.signing import sign
from mor.services.records.visit_note import Diagnosis, Prescribed, VisitNote, Vitals
from mor.services.records.visits_in_person import AMBULATORY

_log = logging.getLogger(__name__)
# What the doctor wrote, in the city's language (the note is the doctor's own words).
_NOTES: Final = {
    "th": ("ปวดศีรษะเล็กน้อยตอนเช้า กินยาไม่สม่ำเสมอ", "รู้สึกตัวดี",
           "ความดันโลหิตยังสูง", "เริ่มยาลดความดัน นัดวัดความดันใหม่ 1 เดือน",
           "ลดเค็ม ออกกำลังกายวันละ 30 นาที กินยาทุกเช้า"),
    "lo": ("ເຈັບຫົວເລັກນ້ອຍຕອນເຊົ້າ ກິນຢາບໍ່ສະໝໍ່າສະເໝີ", "ຮູ້ສຶກຕົວດີ",
           "ຄວາມດັນເລືອດຍັງສູງ", "ເລີ່ມຢາຫຼຸດຄວາມດັນ ນັດວັດຄວາມດັນໃໝ່ 1 ເດືອນ",
           "ຫຼຸດເຄັມ ອອກກຳລັງກາຍວັນລະ 30 ນາທີ ກິນຢາທຸກເຊົ້າ"),
}


async def signed_visit(store: Store, city: City, patient_id: str, centre_id: str,
                       location_id: str, centre_slug: str) -> str:
    """Yesterday's visit of the patient at the centre, signed by its doctor; its
    Encounter id."""
    account = await Accounts(store.engine).find(f"doctor.{centre_slug}")
    assert account is not None and account.fhir_user_id, "the demo hires the doctor first"
    doctor = await person_caller(store, account)
    started = datetime.combine(datetime.now(city.zone).date() - timedelta(days=1),
                               time(10, 0), city.zone)
    async with store.writing(EVERYTHING) as tx:
        encounter = await tx.create(_encounter(patient_id, account.fhir_user_id, centre_id,
                                               location_id, started))
    subjective, objective, assessment, plan, advice = _NOTES.get(
        city.language, _NOTES["th"])
    note = VisitNote(
        subjective=subjective, objective=objective, assessment=assessment, plan=plan,
        advice=advice,
        vitals=Vitals(systolic=152, diastolic=94, heart_rate=78, temperature=36.8,
                      weight=72, height=168, spo2=98),
        diagnoses=(Diagnosis("I10"),),
        prescribed=(Prescribed("amlodipine-5-tab", dose=1, per_day=1, days=30),))
    formulary = Formulary()
    await seed(store, formulary)
    await sign(store, doctor, encounter.id, note, formulary=formulary,
               language=city.language, now=started + timedelta(minutes=20))
    try:
        await write_visit_documents(store, doctor, encounter.id, city.language,
                                    formulary=formulary, zone=city.zone)
    except FontMissing as missing:
        # The visit page makes them when it is opened, once the fonts are installed.
        _log.warning("the demo visit's documents were not made: %s", missing)
    return encounter.id


def _encounter(patient_id: str, practitioner_id: str, centre_id: str, location_id: str,
               started: datetime) -> dict[str, Any]:
    start = started.isoformat()
    return {
        "resourceType": "Encounter", "status": "in-progress",
        "statusHistory": [{"status": "in-progress", "period": {"start": start}}],
        "class": dict(AMBULATORY),
        "subject": {"reference": f"Patient/{patient_id}"},
        "participant": [{"individual": {"reference": f"Practitioner/{practitioner_id}"},
                         "period": {"start": start}}],
        "period": {"start": start},
        "location": [{"location": {"reference": f"Location/{location_id}"}}],
        "serviceProvider": {"reference": f"Organization/{centre_id}"},
    }
