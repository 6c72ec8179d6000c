"""Authorisation in one place: from who is asking to what the FHIR store shows them.

A :class:`Principal` is the caller of a request: a person (with their account's role)
using an app, or a backend service. Its :attr:`visibility` is what the store applies to
every query; :meth:`check` decides, before anything runs, whether the interaction is
allowed at all: by the token's scopes, by the role, and by rules no one may break
(audit events are never changed).

| who | whose records | resources of no patient | writes |
| --- | --- | --- | --- |
| patient, identity verified | their own | the directory | add to their own record; change their details, consents, bookings |
| patient, not yet verified | none | the directory | none |
| doctor, nurse, pharmacist | their health centres' patients, and those who consented | all | in those records |
| health-centre admin | none | all | the directory |
| city admin | none | the directory | the directory |
| backend service (``system/`` scopes) | all its scopes name | all | as its scopes allow |
| partner city's instance (a backend service) | those who consented to share with that city | the directory | none |
"""  # noqa: E501

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from mor.auth import audit
from mor.auth.accounts import Account
from mor.auth.roles import CLINICAL_ROLES, Role
from mor.auth.scopes import Scopes
from mor.fhir.errors import Forbidden, Unauthorized
from mor.fhir.permissions import Access, Interaction
from mor.fhir.visibility import DIRECTORY_TYPES, Unowned, Visibility

# What patients may change and delete in their own record, beyond adding to it: their
# details, their consents, the family members who act for them, their bookings and answers.
PATIENT_MANAGED_TYPES: Final = frozenset({"Patient", "Consent", "RelatedPerson", "Appointment",
                                          "QuestionnaireResponse"})
_WRITES: Final = frozenset({Interaction.CREATE, Interaction.UPDATE, Interaction.DELETE})
# The record of what happened: added by mor (and by trusted backend services, such as a
# partner system reporting its own accesses), never changed or deleted.
_APPEND_ONLY_TYPES: Final = frozenset({"AuditEvent"})


@dataclass(frozen=True, slots=True)
class Principal:
    client_id: str | None
    account: Account | None
    # None for mor's own pages, where a person may do all their role allows.
    scopes: Scopes | None
    # The patient in context (SMART launch/patient), if any.
    patient: str | None = None
    # The network address the request came from, for the audit record.
    address: str | None = None
    # The patients this person acts for, each through a RelatedPerson (mor.auth.proxies).
    proxies: Mapping[str, str] = field(default_factory=dict)
    # Patients a clinician reaches by breaking the glass, with the reason given.
    emergency: Mapping[str, str] = field(default_factory=dict)
    # A partner city's instance: the id of that city's Organization in the directory.
    partner: str | None = None
    visibility: Visibility = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "visibility", self._visibility())

    @property
    def is_backend(self) -> bool:
        return self.account is None

    def check(self, interaction: Interaction, resource_type: str | None) -> None:
        if resource_type in _APPEND_ONLY_TYPES and interaction in _WRITES and (
                interaction is not Interaction.CREATE or not self.is_backend):
            raise Forbidden(f"{resource_type} resources are the record of what happened: "
                            "mor and trusted backend services add them, and no one changes "
                            "them")
        if interaction is Interaction.IMPORT:
            # An import writes whatever the files hold, of any type and into anyone's
            # record: only for a backend service whose scopes create and update everything.
            if not self.is_backend or self.partner is not None or (
                    not self.visibility.unrestricted):
                raise Forbidden("Bulk import is for backend services with system/ scopes")
            for needed in (Interaction.CREATE, Interaction.UPDATE):
                self.check(needed, None)
            return
        if self.scopes is not None and not self.scopes.permits(interaction, resource_type):
            what = resource_type or "every type"
            raise Forbidden(f"This token's scopes ({self.scopes}) do not allow {interaction} "
                            f"on {what}; ask for a scope that does")
        if interaction is Interaction.EXPORT and not self.visibility.unrestricted:
            raise Forbidden("Bulk export is for backend services with system/ scopes")
        if self.partner is not None and interaction in _WRITES:
            raise Forbidden("A partner city reads the records patients share with it and "
                            "writes nothing here; records cross between cities as documents")
        if self.account is None or interaction not in _WRITES:
            return
        role = self.account.role
        if role in (Role.CITY_ADMIN, Role.CENTRE_ADMIN) and (
                resource_type is None or resource_type not in DIRECTORY_TYPES):
            raise Forbidden(f"A {role.value} keeps the directory (health centres, "
                            "practitioners, services, schedules) and writes no patient records")
        if role is Role.PATIENT and not self.account.verified:
            raise Forbidden("Your identity has not been verified yet; until it is, your "
                            "account can only look at general information")
        if role is Role.PATIENT and interaction is not Interaction.CREATE and (
                resource_type not in PATIENT_MANAGED_TYPES):
            raise Forbidden(f"Patients add to their record but do not change or delete "
                            f"{resource_type} resources; ask your health centre to correct it")

    def audit_event(self, access: Access) -> dict[str, Any]:
        agents = []
        reason = None
        if self.account is not None:
            agents.append(audit.person_agent(self.account.fhir_user, self.account.username,
                                             self.address))
            # On whose behalf: the family members whose records this touched; and whether
            # it needed the glass broken.
            touched = sorted(access.patients)
            agents += [audit.proxy_agent(self.proxies[patient], patient)
                       for patient in touched if patient in self.proxies]
            reason = next((self.emergency[p] for p in touched if p in self.emergency), None)
        if self.client_id is not None:
            agents.append(audit.app_agent(self.client_id, self.address,
                                          requestor=self.account is None,
                                          organization=self.partner))
        return audit.with_emergency(audit.audit_event(access, agents=agents), reason)

    def _visibility(self) -> Visibility:
        types = None if self.scopes is None else self.scopes.readable_types()
        account = self.account
        if account is None and self.partner is not None:
            return Visibility(grantees=frozenset({("Organization", self.partner)}),
                              unowned=Unowned.DIRECTORY, types=types)
        if account is None:
            return Visibility(unrestricted=True, unowned=Unowned.ALL, types=types)
        own = account.fhir_user_id
        if account.role is Role.PATIENT:
            if not account.verified:
                return Visibility(types=types)
            patients = frozenset({own}) if own else frozenset()
            # Family members, where their active Consent permits the RelatedPerson.
            family = frozenset(("RelatedPerson", related)
                               for related in self.proxies.values())
            if self.patient is not None:
                return Visibility(patients=patients & {self.patient}, types=types,
                                  grantees=frozenset(
                                      ("RelatedPerson", related)
                                      for patient, related in self.proxies.items()
                                      if patient == self.patient))
            return Visibility(patients=patients, grantees=family, types=types)
        if account.role in CLINICAL_ROLES:
            if self.patient is not None:
                # A launch names one patient; the token reaches no further, and still
                # only if the person could see that patient anyway (checked at launch).
                return Visibility(patients=frozenset({self.patient}), types=types,
                                  unowned=Unowned.ALL)
            grantees = {("Organization", o) for o in account.organizations}
            if own:
                grantees.add(("Practitioner", own))
            return Visibility(patients=frozenset(self.emergency),
                              organizations=frozenset(account.organizations),
                              grantees=frozenset(grantees), unowned=Unowned.ALL,
                              types=types)
        unowned = Unowned.ALL if account.role is Role.CENTRE_ADMIN else Unowned.DIRECTORY
        return Visibility(unowned=unowned, types=types)


class Anonymous:
    """A request without credentials: it may read the CapabilityStatement, nothing else."""

    @property
    def visibility(self) -> Visibility:
        return _NOTHING

    def audit_event(self, access: Access) -> dict[str, Any] | None:
        # Turned away before anything was read: not worth a record each (a flood of
        # anonymous requests must not fill the audit log); the web server's log has them.
        return None

    def check(self, interaction: Interaction, resource_type: str | None) -> None:
        raise Unauthorized("Sign in first: send an access token (Authorization: Bearer ...) "
                           "obtained as /.well-known/smart-configuration describes")


_NOTHING: Final = Visibility(unowned=Unowned.NONE)
ANONYMOUS: Final = Anonymous()
