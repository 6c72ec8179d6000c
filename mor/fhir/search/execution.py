"""Running a compiled search: one page of matches, what they include, the total."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace

from mor.fhir.search.compiler import CompiledSearch
from mor.fhir.search.driving import with_smallest_listed
from mor.fhir.search.includes import MAX_INCLUDED, MAX_ITERATIONS, Found, include_query
from mor.fhir.search.sorting import encode_cursor
from mor.fhir.store import StoredResource, Transaction


@dataclass(slots=True)
class SearchPage:
    matches: list[StoredResource]
    included: list[StoredResource] = field(default_factory=list)
    # The cursor of the next page; None on the last.
    next_cursor: str | None = None
    total: int | None = None
    warnings: list[str] = field(default_factory=list)


async def narrowed(tx: Transaction, compiled: CompiledSearch) -> CompiledSearch:
    """``compiled`` with the keys of its most selective condition listed when they are few
    (:mod:`.driving`): for every search mor runs, not only the API's. A plan's open alerts
    (``Task?code=...&based-on=CarePlan/1&status=...``) otherwise start from all 20,000
    alert Tasks of a centre, which PostgreSQL expects to be one: 360 ms for each reading
    a patient sends, instead of a millisecond."""
    conditions = await with_smallest_listed(tx, compiled.conditions)
    return compiled if conditions is compiled.conditions else replace(
        compiled, conditions=conditions)


async def run_search(tx: Transaction, compiled: CompiledSearch, *,
                     skip_included_types: Collection[str] = ()) -> SearchPage:
    compiled = await narrowed(tx, compiled)
    total = None
    if compiled.total != "none" or compiled.summary_count:
        # "estimate" is answered exactly: an exact count is a valid estimate, and
        # unlike the planner's guess it is the same on SQLite and PostgreSQL.
        total = await tx.count(compiled.filter_query)
    if compiled.summary_count:
        return SearchPage([], total=total)
    found = await tx.read_page(compiled.page(compiled.count + 1), compiled.count)
    next_cursor = None
    if len(found) > compiled.count and compiled.count:
        last = found[compiled.count - 1][0]
        next_cursor = encode_cursor([*last[1:], last[0]])
    matches = [stored for _, stored in found[:compiled.count]]
    page = SearchPage(matches, next_cursor=next_cursor, total=total)
    if compiled.includes and matches:
        included_pks = await _included(tx, compiled, matches, skip_included_types,
                                       page.warnings)
        page.included = await tx.read_many(included_pks)
    return page


async def _included(tx: Transaction, compiled: CompiledSearch,
                    matches: Sequence[StoredResource], skip_types: Collection[str],
                    warnings: list[str]) -> list[int]:
    frontier = [Found(m.pk, m.resource_type, m.id) for m in matches if m.pk is not None]
    seen = {found.pk for found in frontier}
    included: list[int] = []
    for round_number in range(MAX_ITERATIONS + 1):
        rules = [i for i in compiled.includes if round_number == 0 or i.iterate]
        if not rules or not frontier:
            return included
        if round_number == MAX_ITERATIONS:
            warnings.append(f"_include:iterate stopped after {MAX_ITERATIONS} rounds; "
                            "resources further along the references are not included")
            return included
        found_now: list[Found] = []
        for rule in rules:
            query = include_query(rule, frontier, tx)
            if query is None:
                continue
            for row in await tx.rows(query.limit(MAX_INCLUDED + 1)):
                pk, resource_type, resource_id = row[0], row[1], row[2]
                if pk not in seen and resource_type not in skip_types:
                    seen.add(pk)
                    found_now.append(Found(pk, resource_type, resource_id))
        room = MAX_INCLUDED - len(included)
        if len(found_now) > room:
            warnings.append(f"Only the first {MAX_INCLUDED} included resources are in this "
                            "page; ask for fewer results per page (_count) to get them all")
            included += [f.pk for f in found_now[:room]]
            return included
        included += [f.pk for f in found_now]
        frontier = found_now
    return included
