"""Acting for a family member: one phone often serves a whole family.

A person whose account acts for someone else is a FHIR ``RelatedPerson`` of that
patient (their child, an elderly parent), identified by the account's sign-in name
under ``urn:mor:account``; the patient (or their legal guardian, or staff who checked
the guardianship) permits it with an active ``patient-privacy`` Consent naming the
RelatedPerson. The Consent's provision says what the proxy may see; withdrawing it ends
the proxy at once. Every action of a proxy is recorded as taken by the RelatedPerson.
"""

from __future__ import annotations

from typing import Final

from mor.fhir.search import compile_search
from mor.fhir.store import Store
from mor.fhir.visibility import EVERYTHING

ACCOUNT_SYSTEM: Final = "urn:mor:account"


async def proxies_of(store: Store, username: str) -> dict[str, str]:
    """The patients an account may act for, as {patient id: RelatedPerson id}. The
    Consent that permits each is checked by the access condition, not here."""
    query = compile_search("RelatedPerson", [("identifier", f"{ACCOUNT_SYSTEM}|{username}"),
                                             ("active:not", "false")]).query
    async with store.reading(EVERYTHING) as tx:
        found = await tx.read_many(await tx.find(query, limit=50))
    proxies: dict[str, str] = {}
    for related in found:
        patient = (related.resource().get("patient") or {}).get("reference", "")
        if patient.startswith("Patient/"):
            proxies[patient.removeprefix("Patient/")] = related.id
    return proxies
