"""Benchmark: signing a visit and making its documents, and the pharmacy's queue.

Each round a new patient (with a record: allergies, medicines, vital signs) is seen by
the doctor in a walk-in consult, and the doctor signs a full note: vital signs, two
ICD-10 diagnoses, an allergy, two medicines (one with an allergy warning acknowledged),
two lab tests with a blood draw at home, a referral. Measured: the signing (checks,
reads of the record, one transaction of ~20 resources), then the prescription and
referral letter as PDF (Thai) stored as Binary + DocumentReference; finally the
pharmacist's queue holding every round's prescription.

    .venv/bin/python bench/visit_signing.py [--backends sqlite,postgresql] [--rounds 20]
        [--record]

Targets: signing p95 ≤ 300 ms; documents p95 ≤ 500 ms; the queue of 20 ≤ 300 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from fhir_crud import _commit, _database, _machine, publish

from mor.auth.roles import Role
from mor.config import Settings
from mor.db.engine import create_engine
from mor.db.migrate import upgrade
from mor.fhir.store import Store
from mor.fhir.visibility import EVERYTHING
from mor.services.documents.visit_documents import write_visit_documents
from mor.services.pharmacy.queue import pharmacy_queue
from mor.services.prescribing.formulary import Formulary, seed
from mor.services.records.signing import sign
from mor.services.video.consults import admit, walk_in
from tests.records.patient_record import make_record
from tests.records.test_signing import full_note, hospital
from tests.scheduling.centre import patient_caller
from tests.video.conftest import centre_with_staff, clinician_at


async def _register_with(store: Store, patient_id: str, centre_id: str) -> None:
    """The patient is the centre's (as after a first booking), so its doctor reads them."""
    async with store.writing(EVERYTHING) as tx:
        patient = (await tx.read("Patient", patient_id)).resource()
        patient.pop("meta", None)
        patient["managingOrganization"] = {"reference": f"Organization/{centre_id}"}
        await tx.update("Patient", patient_id, patient)


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(share * len(ordered)) - 1)]


def run_backend(backend: str, rounds: int) -> dict[str, str]:
    with _database(backend) as url:
        upgrade(url)  # before the event loop: the migrations run one of their own
        return asyncio.run(_measure(url, rounds))


async def _measure(url: str, rounds: int) -> dict[str, str]:
    engine = create_engine(Settings(database_url=url))
    store = Store(engine)
    try:
        await seed(store)
        centre = await centre_with_staff(store)
        pharmacist = await clinician_at(store, centre.id, Role.PHARMACIST, "Nok")
        hospital_id = await hospital(store)
        formulary = Formulary()
        signing: list[float] = []
        documents: list[float] = []
        for _ in range(rounds):
            caller, patient_id = await patient_caller(store)
            await _register_with(store, patient_id, centre.id)
            await make_record(store, None, patient_id=patient_id)
            consult = await walk_in(store, caller, patient_id, centre.id)
            await admit(store, centre.doctor.caller, consult.encounter_id)
            started = time.perf_counter()
            await sign(store, centre.doctor.caller, consult.encounter_id,
                       full_note(hospital_id), formulary=formulary, language="th")
            signed = time.perf_counter()
            await write_visit_documents(store, centre.doctor.caller,
                                        consult.encounter_id, "th", formulary=formulary)
            signing.append((signed - started) * 1000)
            documents.append((time.perf_counter() - signed) * 1000)
        started = time.perf_counter()
        queue = await pharmacy_queue(store, pharmacist.caller, centre.id)
        queue_ms = (time.perf_counter() - started) * 1000
    finally:
        await engine.dispose()
    return {
        "signing p50 / p95 / max": f"{statistics.median(signing):.0f} / "
                                   f"{_percentile(signing, 0.95):.0f} / {max(signing):.0f} ms",
        "documents (2 PDFs, stored) p50 / p95 / max":
            f"{statistics.median(documents):.0f} / {_percentile(documents, 0.95):.0f} / "
            f"{max(documents):.0f} ms",
        "pharmacy queue": f"{len(queue.to_check)} to check in {queue_ms:.0f} ms",
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--record", action="store_true",
                        help="append the results to bench/RESULTS.md")
    args = parser.parse_args()
    backends = args.backends.split(",")
    results = {b: run_backend(b, args.rounds) for b in backends}
    command = "python bench/visit_signing.py " + " ".join(sys.argv[1:])
    rows = [f"| {measure} | " + " | ".join(results[b][measure] for b in backends) + " |"
            for measure in results[backends[0]]]
    section = "\n".join([
        f"\n## {datetime.now().astimezone():%Y-%m-%d %H:%M %Z}, mor {_commit()}: "
        "signing a visit, its documents, the pharmacy's queue",
        "", f"- machine: {_machine()}", f"- command: `{command.strip()}`",
        f"- measured: {args.rounds} visits, each a new patient with a record, signed in "
        "process through the signing service (a full note: vitals, 2 diagnoses, an "
        "allergy, 2 medicines, 2 labs with a home blood draw, a referral); then its "
        "prescription and referral letter in Thai as PDF, stored; last the pharmacist's "
        "queue of all of them",
        "- target: signing p95 ≤ 300 ms; documents p95 ≤ 500 ms; the queue ≤ 300 ms", "",
        "| measure | " + " | ".join(backends) + " |",
        "| --- | " + " | ".join("---" for _ in backends) + " |", *rows, ""])
    publish(section, args.record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
