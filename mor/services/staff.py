"""Adding a member of staff: their account, their ``Practitioner`` and a
``PractitionerRole`` at each health centre they work at (see mor.auth.workplaces)."""

from __future__ import annotations

from typing import Any

from mor.auth.accounts import Account, AccountError, Accounts, check_fhir_user
from mor.auth.passwords import check_password_strength
from mor.auth.roles import STAFF_ROLES, Role
from mor.auth.workplaces import practitioner_role
from mor.fhir.errors import Gone, NotFound
from mor.fhir.store import Store
from mor.fhir.visibility import EVERYTHING


async def add_account(store: Store, username: str, password: str, role: Role, *,
                      name: str | None = None, fhir_user: str | None = None,
                      organizations: tuple[str, ...] = (), verified: bool = False
                      ) -> Account:
    """A new account. A member of staff with health centres but no Practitioner gets one
    (named ``name``, else the sign-in name), and a PractitionerRole at each centre."""
    accounts = Accounts(store.engine)
    if organizations and role not in STAFF_ROLES:
        raise AccountError("Only staff work at health centres; a patient's health centre "
                           "is their Patient record's managingOrganization")
    # Checked before anything is written, so a refused account leaves no resources.
    check_password_strength(password)
    if await accounts.find(username) is not None:
        raise AccountError(f"There is already an account named {username.strip().lower()!r}")
    if organizations:
        fhir_user = await _write_roles(store, role, name or username.strip(), fhir_user,
                                       organizations)
    return await accounts.add(username, password, role, fhir_user=fhir_user,
                              verified=verified)


async def _write_roles(store: Store, role: Role, name: str, fhir_user: str | None,
                       organizations: tuple[str, ...]) -> str:
    if fhir_user is not None:
        check_fhir_user(role, fhir_user)
    async with store.writing(EVERYTHING) as tx:
        for organization in organizations:
            try:
                await tx.read("Organization", organization)
            except (NotFound, Gone):
                raise AccountError(f"There is no health centre Organization/{organization}; "
                                   "add it first (mor import, or the FHIR API)") from None
        if fhir_user is None:
            practitioner: dict[str, Any] = {"resourceType": "Practitioner", "active": True,
                                            "name": [{"text": name}]}
            fhir_user = (await tx.create(practitioner)).reference
        practitioner_id = fhir_user.removeprefix("Practitioner/")
        for organization in organizations:
            await tx.create(practitioner_role(practitioner_id, organization, role))
    return fhir_user
