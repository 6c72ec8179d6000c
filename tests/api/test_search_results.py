"""What comes back: order (_sort), pages, totals, summaries and unknown parameters."""

from __future__ import annotations

import calendar
from typing import Any

import httpx

from tests.api.searching import all_pages, matches, next_link, put, search

PEOPLE = [  # id, family, birthDate (None: unknown)
    ("a", "Suk", "1980-04-01"), ("b", "Ánh", "1975"), ("c", "suk", "1980-04-01"),
    ("d", "Boun", None), ("e", "Chan", "2001-12-31"), ("f", "Ánh", "1990-06"),
    ("g", "Xay", None), ("h", "Boun", "1975-01-01"),
]


async def _people(client: httpx.AsyncClient) -> None:
    for id_, family, birth in PEOPLE:
        patient: dict[str, Any] = {"resourceType": "Patient", "id": id_, "active": True,
                                   "name": [{"family": family}]}
        if birth:
            patient["birthDate"] = birth
        await put(client, patient)


def _expected(keys: str) -> list[str]:
    """The order the spec implies, computed independently: missing values last."""
    rows = list(PEOPLE)
    for key in reversed(keys.split(",")):
        descending = key.startswith("-")
        index = {"family": 1, "birthdate": 2}[key.lstrip("-")]
        with_value = [r for r in rows if r[index] is not None]
        without = [r for r in rows if r[index] is None]
        if index == 1:
            def norm(value: str) -> str:
                return value.lower().replace("á", "a")
        else:
            # A date stands for a range: ascending sorts by its start, descending by its end.
            def norm(value: str, descending: bool = descending) -> str:
                return _end(value) if descending else _start(value)
        with_value.sort(key=lambda r: norm(r[index]), reverse=descending)
        rows = with_value + without
    return [r[0] for r in rows]


def _start(date: str) -> str:
    return date + "-01-01"[len(date) - 4:] if len(date) < 10 else date


def _end(date: str) -> str:
    if len(date) == 4:
        return date + "-12-31"
    if len(date) == 7:
        year, month = int(date[:4]), int(date[5:])
        return f"{date}-{calendar.monthrange(year, month)[1]:02d}"
    return date


async def _sorted_ids(client: httpx.AsyncClient, sort: str, count: int) -> list[str]:
    pages = await all_pages(client, "/Patient", {"active": "true", "_sort": sort,
                                                 "_count": str(count)})
    return [id_ for page in pages for id_ in matches(page)]


async def test_sort_by_several_keys_both_ways_across_pages(client: httpx.AsyncClient) -> None:
    await _people(client)
    for sort in ("birthdate", "-birthdate", "family,-birthdate", "-family,birthdate"):
        everything = await _sorted_ids(client, sort, 100)
        # Ties are broken by creation order, which the expectation keeps (a stable sort).
        assert everything == _expected(sort), sort
        for count in (1, 3):
            assert await _sorted_ids(client, sort, count) == everything, (sort, count)


async def test_sort_by_id_and_last_updated(client: httpx.AsyncClient) -> None:
    await _people(client)
    assert await _sorted_ids(client, "-_id", 3) == sorted("abcdefgh", reverse=True)
    assert await _sorted_ids(client, "_lastUpdated", 3) == list("abcdefgh")


async def test_paging_is_stable_when_resources_are_added_meanwhile(
    client: httpx.AsyncClient,
) -> None:
    await _people(client)
    first = await search(client, "/Patient", {"_sort": "-birthdate", "_count": "2"})
    assert matches(first) == ["e", "f"]
    # A newcomer sorting before the cursor does not shift the following pages.
    await put(client, {"resourceType": "Patient", "id": "z", "birthDate": "2020-01-01"})
    url = next_link(first)
    assert url is not None
    second = await search(client, url)
    assert matches(second) == ["a", "c"]


async def test_sort_on_an_unsortable_parameter(client: httpx.AsyncClient) -> None:
    response = await client.get("/Observation", params={"_sort": "combo-code-value-quantity"},
                                headers={"Prefer": "handling=strict"})
    assert response.status_code == 400
    assert "cannot be sorted" in response.text


async def test_a_cursor_that_mor_did_not_issue(client: httpx.AsyncClient) -> None:
    response = await client.get("/Patient", params={"_cursor": "bogus"})
    assert response.status_code == 400
    assert "follow the 'next' link" in response.text


async def test_total(client: httpx.AsyncClient) -> None:
    await _people(client)
    assert "total" not in await search(client, "/Patient", {"_count": "2"})
    for mode in ("accurate", "estimate"):
        bundle = await search(client, "/Patient", {"family": "Boun", "_count": "1",
                                                   "_total": mode})
        assert bundle["total"] == 2
        assert len(matches(bundle)) == 1
    summary = await search(client, "/Patient", {"family": "Ánh", "_summary": "count"})
    assert summary["total"] == 2
    assert "entry" not in summary


PATIENT = {"resourceType": "Patient", "id": "full", "active": True, "gender": "female",
           "text": {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">"
                    "Noy</div>"},
           "name": [{"family": "Phommachanh", "given": ["Noy"]}],
           "maritalStatus": {"text": "married"},
           "contact": [{"name": {"family": "Phommachanh", "given": ["Kham"]}}],
           "communication": [{"language": {"text": "Lao"}}]}


def _only_match(bundle: dict[str, Any]) -> dict[str, Any]:
    resources: list[dict[str, Any]] = [e["resource"] for e in bundle["entry"]]
    assert len(resources) == 1
    return resources[0]


def _subsetted(resource: dict[str, Any]) -> bool:
    return any(tag.get("code") == "SUBSETTED" for tag in resource["meta"].get("tag", []))


async def test_summary_modes(client: httpx.AsyncClient) -> None:
    await put(client, PATIENT)
    summary = _only_match(await search(client, "/Patient", {"_summary": "true"}))
    assert {"name", "gender", "active"} <= summary.keys()
    assert not {"text", "contact", "maritalStatus", "communication"} & summary.keys()
    assert _subsetted(summary)
    text = _only_match(await search(client, "/Patient", {"_summary": "text"}))
    assert set(text) == {"resourceType", "id", "meta", "text"}
    data = _only_match(await search(client, "/Patient", {"_summary": "data"}))
    assert "text" not in data and "contact" in data
    whole = _only_match(await search(client, "/Patient", {"_summary": "false"}))
    assert not _subsetted(whole) and "contact" in whole


async def test_elements(client: httpx.AsyncClient) -> None:
    await put(client, PATIENT)
    resource = _only_match(await search(client, "/Patient", {"_elements": "name,Patient.gender"}))
    assert set(resource) == {"resourceType", "id", "meta", "name", "gender"}
    assert _subsetted(resource)


async def test_unknown_parameters_are_reported_or_refused(client: httpx.AsyncClient) -> None:
    await _people(client)
    bundle = await search(client, "/Patient", {"family": "Boun", "colour": "red"},
                          strict=False)
    assert sorted(matches(bundle)) == ["d", "h"]
    self_link = bundle["link"][0]["url"]
    assert "family=Boun" in self_link and "colour" not in self_link
    outcome = bundle["entry"][-1]
    assert outcome["search"]["mode"] == "outcome"
    assert "colour" in outcome["resource"]["issue"][0]["diagnostics"]
    response = await client.get("/Patient", params={"family": "Boun", "colour": "red"},
                                headers={"Prefer": "handling=strict"})
    assert response.status_code == 400
    assert response.json()["resourceType"] == "OperationOutcome"
    assert "colour" in response.text
