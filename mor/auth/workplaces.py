"""Where a member of staff works: their FHIR ``PractitionerRole`` resources.

A doctor, nurse or pharmacist is a ``Practitioner``; each health centre they work at is
a ``PractitionerRole`` naming the practitioner and the centre's ``Organization`` (with
its ``Location`` and the services they offer, when the roster says so). The roles are
kept in the FHIR store like the rest of the directory, so any FHIR client sees the
same staff list, and ending a role (``active: false``, or a ``period`` that ended)
ends the reach it gave at the next request.

:func:`add_practitioner_role` is how mor writes one for a new account;
:func:`workplaces_of` is what the access policy reads.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Final

from mor.auth.accounts import Account
from mor.auth.roles import Role
from mor.fhir.indexing import period_range
from mor.fhir.search import compile_search
from mor.fhir.store import Store
from mor.fhir.timestamps import now_micros
from mor.fhir.visibility import EVERYTHING

# Most roles a practitioner can hold at once that are read per request; a city's
# clinician works at a handful of centres.
_MOST_ROLES: Final = 100
_PRACTITIONER_ROLE: Final = "http://terminology.hl7.org/CodeSystem/practitioner-role"
# The code of each staff role in the FHIR practitioner-role code system.
ROLE_CODES: Final = {Role.DOCTOR: ("doctor", "Doctor"), Role.NURSE: ("nurse", "Nurse"),
                     Role.PHARMACIST: ("pharmacist", "Pharmacist"),
                     Role.CENTRE_ADMIN: ("ict", "ICT professional"),
                     Role.CITY_ADMIN: ("ict", "ICT professional")}


async def workplaces_of(store: Store, practitioner_id: str) -> frozenset[str]:
    """The ids of the Organizations where this practitioner has an active role now."""
    query = compile_search("PractitionerRole", [
        ("practitioner", f"Practitioner/{practitioner_id}"), ("active:not", "false"),
    ]).query
    async with store.reading(EVERYTHING) as tx:
        found = await tx.read_many(await tx.find(query, limit=_MOST_ROLES))
    now = now_micros()
    return frozenset(
        organization.removeprefix("Organization/")
        for role in found
        if _in_period(role.resource().get("period"), now)
        and (organization := (role.resource().get("organization") or {})
             .get("reference", "")).startswith("Organization/"))


def practitioner_role(practitioner_id: str, organization_id: str, role: Role
                      ) -> dict[str, Any]:
    """A new PractitionerRole: this practitioner works at this health centre in this role."""
    code, display = ROLE_CODES[role]
    return {
        "resourceType": "PractitionerRole", "active": True,
        "period": {"start": datetime.now(UTC).date().isoformat()},
        "practitioner": {"reference": f"Practitioner/{practitioner_id}"},
        "organization": {"reference": f"Organization/{organization_id}"},
        "code": [{"coding": [{"system": _PRACTITIONER_ROLE, "code": code,
                              "display": display}]}],
    }


def _in_period(period: Any, now: int) -> bool:
    # An open start or end is unbounded; a day-precision end lasts the whole day.
    try:
        span = period_range(period)
    except ValueError:  # a role whose dates cannot be read gives no reach
        return False
    return span is None or span[0] <= now <= span[1]


async def with_workplaces(store: Store, account: Account) -> Account:
    """The account with the health centres of its practitioner's active roles added to
    those listed on the account itself (accounts made before roles were read)."""
    if account.fhir_user is None or not account.fhir_user.startswith("Practitioner/"):
        return account
    found = await workplaces_of(store, account.fhir_user.removeprefix("Practitioner/"))
    if found <= set(account.organizations):
        return account
    return replace(account, organizations=tuple(sorted(found | set(account.organizations))))
