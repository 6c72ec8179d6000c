"""For random patients and random searches, mor's answer (matches, order and paging)
equals a plain in-memory evaluation of the spec's rules on the same data.

The evaluation here is written from the spec, independently of mor's code: dates
are compared as ranges of whole days (tests.api.searching.date_matches), strings by
the folded forms listed in FAMILIES. Each example tags its patients with a fresh code
and adds ``_tag`` to every search, so examples never see each other's data.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api.searching import PREFIXES, date_matches, dates, day_range, ids_on_every_page

TAG_SYSTEM = "http://mor.example/test-run"
# Family names and the folded form string search compares (case and accents removed).
FAMILIES = {"Suk": "suk", "suk": "suk", "Sukhum": "sukhum", "Ánh": "anh", "Anh": "anh",
            "ใจดี": "ใจดี", "ใจ": "ใจ", "ພົມມະຈັນ": "ພົມມະຈັນ", "Bounmy": "bounmy"}
GENDERS = ("male", "female", "other", "unknown")
_run = itertools.count()


@dataclass(frozen=True)
class Person:
    family: str | None
    gender: str | None
    birth: str | None
    active: bool | None


people = st.lists(st.builds(Person, st.none() | st.sampled_from(sorted(FAMILIES)),
                            st.none() | st.sampled_from(GENDERS), st.none() | dates,
                            st.none() | st.booleans()), min_size=0, max_size=10)
filters = st.one_of(
    st.tuples(st.just("gender"), st.lists(st.sampled_from(GENDERS), min_size=1, max_size=2)
              .map(",".join)),
    st.tuples(st.just("gender:not"), st.sampled_from(GENDERS)),
    st.tuples(st.sampled_from(["gender:missing", "birthdate:missing", "family:missing"]),
              st.sampled_from(["true", "false"])),
    st.tuples(st.just("birthdate"), st.tuples(st.sampled_from(PREFIXES), dates)
              .map("".join)),
    st.tuples(st.sampled_from(["family", "family:exact", "family:contains"]),
              st.sampled_from(["su", "Suk", "SUK", "anh", "Ánh", "ใจ", "ພົມ", "k", "nm"])),
    st.tuples(st.just("active"), st.sampled_from(["true", "false"])),
)
# Two bounds on birthdate (one value per patient) are tested on that value together.
birth_bounds = st.lists(st.tuples(st.just("birthdate"), st.tuples(
    st.sampled_from(PREFIXES), dates).map("".join)), min_size=2, max_size=2)
searches = st.tuples(st.tuples(st.lists(filters, min_size=1, max_size=3),
                               st.just([]) | birth_bounds).map(lambda f: f[0] + f[1]),
                     st.none() | st.sampled_from(["birthdate", "-birthdate", "family",
                                                  "-family", "family,-birthdate"]),
                     st.integers(1, 4))


def _fold(text: str) -> str:
    return FAMILIES.get(text) or text.lower().replace("á", "a")


def _matches(person: Person, name: str, value: str) -> bool:
    if name == "gender":
        return person.gender in value.split(",")
    if name == "gender:not":
        return person.gender != value
    if name.endswith(":missing"):
        field = {"gender": person.gender, "birthdate": person.birth,
                 "family": person.family}[name.split(":")[0]]
        return (field is None) == (value == "true")
    if name == "birthdate":
        return date_matches(person.birth, value)
    if name.startswith("family"):
        if person.family is None:
            return False
        if name == "family:exact":
            return person.family == value
        if name == "family:contains":
            return _fold(value) in _fold(person.family)
        return _fold(person.family).startswith(_fold(value))
    if name == "active":
        return person.active is not None and str(person.active).lower() == value
    raise AssertionError(name)


def _expected(population: list[Person], conditions: list[tuple[str, str]],
              sort: str | None) -> list[int]:
    found = [i for i, p in enumerate(population)
             if all(_matches(p, name, value) for name, value in conditions)]
    for key in reversed(sort.split(",") if sort else []):
        descending = key.startswith("-")
        field = key.lstrip("-")

        def value_of(i: int, field: str = field, descending: bool = descending) -> Any:
            person = population[i]
            if field == "family":
                return None if person.family is None else _fold(person.family)
            if person.birth is None:
                return None
            low, high = day_range(person.birth)
            return high if descending else low

        present = [i for i in found if value_of(i) is not None]
        present.sort(key=value_of, reverse=descending)  # stable: ties keep creation order
        found = present + [i for i in found if value_of(i) is None]
    return found


def _patient(person: Person, index: int, tag: str) -> dict[str, Any]:
    resource: dict[str, Any] = {"resourceType": "Patient", "id": f"{tag}-{index}",
                                "meta": {"tag": [{"system": TAG_SYSTEM, "code": tag}]}}
    if person.family is not None:
        resource["name"] = [{"family": person.family}]
    if person.gender is not None:
        resource["gender"] = person.gender
    if person.birth is not None:
        resource["birthDate"] = person.birth
    if person.active is not None:
        resource["active"] = person.active
    return resource


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
@given(population=people, search=searches)
def test_search_agrees_with_an_in_memory_evaluation(
    live_server: str, live_headers: dict[str, str], population: list[Person],
    search: tuple[list[tuple[str, str]], str | None, int],
) -> None:
    conditions, sort, count = search
    tag = f"run{next(_run)}"
    with httpx.Client(base_url=live_server, timeout=30, headers=live_headers) as client:
        for index, person in enumerate(population):
            # One at a time, so creation order (the default order) is the list's.
            response = client.put(f"/Patient/{tag}-{index}", json=_patient(person, index, tag))
            assert response.status_code == 201, response.text
        params = [*conditions, ("_tag", f"{TAG_SYSTEM}|{tag}"), ("_count", str(count))]
        if sort:
            params.append(("_sort", sort))
        found = ids_on_every_page(client, "/Patient", params)
    expected = [f"{tag}-{i}" for i in _expected(population, conditions, sort)]
    assert found == expected
