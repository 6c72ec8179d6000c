"""Health-centre staff checking in person the identity document a patient registered with
(see :mod:`mor.services.registration`); a match verifies the account, which from then on
sees the patient's record.

Staff are shown the kind of document, never its number: they type the number they read
off the card in front of them, so a match shows the card is there, and its photo and
name show it is this person's. Every check, matching or not, is an AuditEvent naming the
staff member, in the patient's compartment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

from mor.auth import audit
from mor.auth.accounts import Account, Accounts
from mor.auth.identifiers import document_of
from mor.auth.policy import Principal
from mor.auth.roles import Role
from mor.fhir.search import compile_search
from mor.fhir.store import Store
from mor.fhir.visibility import EVERYTHING
from mor.messages import N_
from mor.services.person_names import display_name

# Staff who meet patients at a health centre's desk. Not pharmacists (the dispensary
# window), nor the city admin (no patient details at all).
CHECKING_ROLES: Final = frozenset({Role.DOCTOR, Role.NURSE, Role.CENTRE_ADMIN})
# A longer list would not help anyone find the person in front of them.
MOST_SHOWN: Final = 100


class NotAllowed(Exception):
    """The caller is not staff who check identity documents."""


class CheckFailed(ValueError):
    """The account was not verified, with the reason for the staff member."""


@dataclass(frozen=True, slots=True)
class Document:
    kind: str  # a code of mor.auth.identifiers.KINDS
    country: str | None  # the issuing country of a passport


@dataclass(frozen=True, slots=True)
class Waiting:
    """A patient account waiting for its check, as the staff member sees it."""

    account_id: str
    name: str
    birth_date: str | None
    documents: tuple[Document, ...]


class IdentityChecks:
    def __init__(self, store: Store, accounts: Accounts) -> None:
        self.store = store
        self.accounts = accounts

    async def waiting(self, staff: Principal) -> list[Waiting]:
        """The patient accounts waiting for a check, newest first."""
        agent = _staff_agent(staff)
        accounts = [a for a in await self.accounts.awaiting_verification(MOST_SHOWN)
                    if a.fhir_user_id]
        patients = await self._patients([a.fhir_user_id or "" for a in accounts])
        shown = [(a, patients[a.fhir_user_id or ""]) for a in accounts
                 if a.fhir_user_id in patients]
        if shown:
            # Read outside the FHIR API, so recorded here: each patient can see who saw them.
            await self.store.append(audit.patients_shown_event(
                agent=agent, patients=sorted({a.fhir_user_id or "" for a, _ in shown})))
        return [Waiting(a.id, display_name(p), p.get("birthDate"), _documents(p)) for a, p in shown]

    async def verify(self, staff: Principal, account_id: str, number: str) -> Account:
        """Verify the account if ``number`` is that of a document on its Patient."""
        agent = _staff_agent(staff)
        patient_account = await self.accounts.get(account_id)
        if patient_account is None or not _is_waiting(patient_account):
            raise CheckFailed(N_("This account is not waiting for an identity check any more "
                                 "(it was verified meanwhile, or disabled)"))
        patient_id = patient_account.fhir_user_id or ""
        patient = (await self._patients([patient_id])).get(patient_id)
        if patient is None:
            raise CheckFailed(N_("This account's patient record is gone; ask the patient to "
                                 "register again"))
        typed = _normalised(number)
        matched = next((i for i in patient.get("identifier") or ()
                        if document_of(i) and typed and _normalised(i["value"]) == typed),
                       None)
        kind = document_of(matched)
        await self.store.append(audit.identity_check_event(
            agent=agent, patient=patient_id, username=patient_account.username,
            document=kind[0] if kind else None, success=matched is not None))
        if matched is None:
            raise CheckFailed(N_("The number does not match the document given at "
                                 "registration; check the card again or ask the patient "
                                 "to register again"))
        verified = await self.accounts.set_verified(patient_account.username)
        await self._register_at_centre(staff, patient_id)
        return verified

    async def _register_at_centre(self, staff: Principal, patient_id: str) -> None:
        """A patient who registered online belongs to no health centre yet: the centre
        whose staff checked their card becomes theirs (``managingOrganization``), so its
        clinicians reach their record. A patient mor already held keeps their centre."""
        centres = staff.account.organizations if staff.account else ()
        if not centres:
            return
        async with self.store.writing(EVERYTHING) as tx:
            current = await tx.read("Patient", patient_id)
            patient = current.resource()
            if patient.get("managingOrganization"):
                return
            patient["managingOrganization"] = {"reference": f"Organization/{centres[0]}"}
            await tx.update("Patient", patient_id, patient, if_match=current.version_id)

    async def _patients(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        if not ids:
            return {}
        # Unrestricted: a patient not yet verified belongs to no health centre
        # (registration sets no managingOrganization) and may come to any centre's desk,
        # so no staff member's own reach would find them, and a centre admin's reaches no
        # patient. The callers show only name, birth date and kinds of document, and
        # record what they showed.
        query = compile_search("Patient", [("_id", ",".join(ids))]).query
        async with self.store.reading(EVERYTHING) as tx:
            found = await tx.read_many(await tx.find(query, limit=len(ids)))
        return {stored.id: stored.resource() for stored in found}


def _staff_agent(staff: Principal) -> dict[str, Any]:
    if staff.account is None or staff.account.role not in CHECKING_ROLES:
        raise NotAllowed("Identity documents are checked by doctors, nurses and "
                         "health-centre admins")
    return audit.person_agent(staff.account.fhir_user, staff.account.username, staff.address)


def _is_waiting(account: Account) -> bool:
    return (account.role is Role.PATIENT and not account.verified and not account.disabled
            and account.fhir_user_id is not None)


def _normalised(number: str) -> str:
    # What people type from a card: spaces and dashes between the groups of digits.
    return re.sub(r"[\s-]", "", number).upper()


def _documents(patient: dict[str, Any]) -> tuple[Document, ...]:
    return tuple(Document(*kind) for kind in map(document_of, patient.get("identifier") or ())
                 if kind is not None)
