"""One way to turn a signed-in person into the :class:`Principal` the store limits, for
the FHIR API and mor's own pages alike: with the family members they act for, the
patients they broke the glass for, and the health centres of their PractitionerRoles."""

from __future__ import annotations

from mor.auth.accounts import Account
from mor.auth.break_glass import BreakGlass
from mor.auth.policy import Principal
from mor.auth.proxies import proxies_of
from mor.auth.roles import CLINICAL_ROLES, Role
from mor.auth.scopes import Scopes
from mor.auth.workplaces import with_workplaces
from mor.fhir.store import Store


async def person_caller(store: Store, account: Account, *, client_id: str | None = None,
                        scopes: Scopes | None = None, patient: str | None = None,
                        address: str | None = None) -> Principal:
    """``scopes`` None: one of mor's own pages, where the person may do all their role
    allows."""
    proxies: dict[str, str] = {}
    emergency: dict[str, str] = {}
    if account.role is Role.PATIENT and account.verified:
        proxies = await proxies_of(store, account.username)
    elif account.role in CLINICAL_ROLES:
        emergency = await BreakGlass(store.engine).active(account.id)
        account = await with_workplaces(store, account)
    elif account.role is Role.CENTRE_ADMIN:
        # The centres they run: for their pages; their reach into records stays none.
        account = await with_workplaces(store, account)
    return Principal(client_id=client_id, account=account, scopes=scopes, patient=patient,
                     address=address, proxies=proxies, emergency=emergency)
