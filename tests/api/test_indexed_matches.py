"""What the index holds for a search's matches, read without the matches: only those the
reader may see, the first ones by the search's order, none named as read, on SQLite and
PostgreSQL."""

from __future__ import annotations

from datetime import datetime

import httpx

from mor.fhir.search.compiler import compile_search
from mor.fhir.search.indexed import indexed_matches
from mor.fhir.store import Store
from mor.fhir.visibility import EVERYTHING, Visibility

LOINC = "http://loinc.org"


def micros(moment: str) -> int:
    return int(datetime.fromisoformat(moment).timestamp() * 1_000_000)


async def test_the_first_matches_the_reader_may_see_with_their_indexed_values(
        client: httpx.AsyncClient) -> None:
    store: Store = client.app.state.store  # type: ignore[attr-defined]
    taken = ["2026-11-01T08:00:00+07:00", "2026-11-02T08:00:00+07:00",
             "2026-11-03T08:00:00+07:00"]
    async with store.writing(EVERYTHING) as tx:
        mine = (await tx.create({"resourceType": "Patient"})).id
        other = (await tx.create({"resourceType": "Patient"})).id
        ids = {}
        for patient, code, when in [(mine, "8480-6", taken[0]), (mine, "8462-4", taken[1]),
                                    (mine, "8480-6", taken[2]), (other, "8480-6", taken[2])]:
            stored = await tx.create({
                "resourceType": "Observation", "status": "final",
                "code": {"coding": [{"system": LOINC, "code": code}]},
                "subject": {"reference": f"Patient/{patient}"}, "effectiveDateTime": when})
            ids[(patient, when)] = stored.id

    async with store.reading(Visibility(patients=frozenset({mine}))) as tx:
        compiled = compile_search("Observation", [("status", "final"), ("_sort", "-date")],
                                  strict=True, access=tx.limits)
        found = await indexed_matches(tx, compiled, limit=2, tokens=("code",),
                                      references=("subject",), dates=("date",))
        assert tx.touched == {}  # nothing was shown, so nothing is named as read
    values = sorted((m.id, m.codes("code", LOINC), m.references["subject"], m.dates["date"])
                    for m in found)
    assert values == sorted([
        (ids[(mine, taken[2])], ["8480-6"], [f"Patient/{mine}"], [micros(taken[2])]),
        (ids[(mine, taken[1])], ["8462-4"], [f"Patient/{mine}"], [micros(taken[1])])])
