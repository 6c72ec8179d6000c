"""What one reader may see, as a condition the store adds to every query it runs.

:class:`Visibility` is built by the access layer (:mod:`mor.auth.policy`) from who is
asking; the store applies it in SQL to reads, searches, includes, history and
``$everything`` alike, so paging and counts only ever see allowed rows and no code
path can forget the check. It rests on the access rows of :mod:`mor.fhir.access_index`.

A resource is visible when it belongs to a patient whose record the reader may see
(the patient's own compartment), or when it belongs to no patient and the reader may
see such resources: every one for staff, only the directory (health centres,
practitioners, schedules, terminology) for patients and administrators.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from enum import Enum
from typing import Any, Final

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    exists,
    false,
    literal,
    or_,
    select,
    true,
    union,
)

from mor.db.schema import idx_date, idx_reference, resource
from mor.fhir.access_index import GRANT_PERIOD_PARAM, GRANTEE_PARAM, PATIENT_PARAM
from mor.fhir.timestamps import now_micros

# Resources that describe the health service rather than a person's health: who works
# where, what is offered when, and the terminology and definitions everyone uses.
DIRECTORY_TYPES: Final = frozenset({
    "ActivityDefinition", "CapabilityStatement", "CodeSystem", "CompartmentDefinition",
    "ConceptMap", "Endpoint", "HealthcareService", "ImplementationGuide", "Library",
    "Location", "Measure", "Medication", "MedicationKnowledge", "NamingSystem",
    "ObservationDefinition", "OperationDefinition", "Organization",
    "OrganizationAffiliation", "PlanDefinition", "Practitioner", "PractitionerRole",
    "Questionnaire", "Schedule", "SearchParameter", "Slot", "SpecimenDefinition",
    "StructureDefinition", "Substance", "ValueSet",
})


class Unowned(Enum):
    """Which resources that belong to no patient a reader sees."""

    NONE = "none"
    DIRECTORY = "directory"
    ALL = "all"


@dataclass(frozen=True, slots=True)
class Visibility:
    # Sees everything: mor itself, and system-level (backend) clients.
    unrestricted: bool = False
    # Patients whose records are visible, by id.
    patients: frozenset[str] = frozenset()
    # ... and the patients these organisations manage (Patient.managingOrganization).
    organizations: frozenset[str] = frozenset()
    # ... and the patients whose active Consent permits one of these (type, id).
    grantees: frozenset[tuple[str, str]] = frozenset()
    unowned: Unowned = Unowned.DIRECTORY
    # The types a token's scopes allow at all; None for every type.
    types: frozenset[str] | None = None

    @classmethod
    def everything(cls) -> Visibility:
        return cls(unrestricted=True, unowned=Unowned.ALL)

    @property
    def sees_everything(self) -> bool:
        return self.unrestricted and self.types is None

    def allows_type(self, resource_type: str) -> bool:
        return self.types is None or resource_type in self.types

    def allows_unowned(self, resource_type: str) -> bool:
        """Whether a resource of this type that belongs to no patient is visible."""
        if not self.allows_type(resource_type):
            return False
        if self.unrestricted or self.unowned is Unowned.ALL:
            return True
        return self.unowned is Unowned.DIRECTORY and resource_type in DIRECTORY_TYPES

    def condition(self, pk: ColumnElement[Any], resource_type: ColumnElement[Any]
                  ) -> ColumnElement[bool]:
        """SQL true for the rows this reader may see, given a row's key and type columns."""
        type_limit: ColumnElement[bool] = (
            true() if self.types is None else resource_type.in_(sorted(self.types)))
        if self.unrestricted:
            return type_limit
        clauses: list[ColumnElement[bool]] = []
        if self.patients or self.organizations or self.grantees:
            # From each candidate row to its patient, and from that patient to what lets
            # the reader see them: cheap for a page of candidates however many patients
            # a centre manages. "pk IN (every row of every managed patient)" made
            # PostgreSQL hash millions of rows in every statement; OFFSET 0 keeps it from
            # turning this back into that.
            owner = idx_reference.alias()
            clauses.append(exists(select(literal(1)).where(
                owner.c.resource_pk == pk, owner.c.param == PATIENT_PARAM,
                owner.c.target_type == "Patient",
                self._sees_patient(owner.c.target_id)).offset(0)))
        if self.unowned is not Unowned.NONE:
            owner = idx_reference.alias()
            no_patient = ~exists().where(owner.c.resource_pk == pk,
                                         owner.c.param == PATIENT_PARAM)
            if self.unowned is Unowned.DIRECTORY:
                no_patient = and_(resource_type.in_(sorted(DIRECTORY_TYPES)), no_patient)
            clauses.append(no_patient)
        if not clauses:
            return false()
        return and_(type_limit, or_(*clauses))

    def _sees_patient(self, patient_id: ColumnElement[Any]) -> ColumnElement[bool]:
        """SQL true when the patient of id ``patient_id`` is one whose record is visible."""
        ways: list[ColumnElement[bool]] = []
        if self.patients:
            ways.append(patient_id.in_(sorted(self.patients)))
        if self.organizations:
            patient, managing = resource.alias(), idx_reference.alias()
            ways.append(exists(select(literal(1)).select_from(patient).join(
                managing, managing.c.resource_pk == patient.c.pk).where(
                patient.c.resource_type == "Patient", patient.c.id == patient_id,
                patient.c.deleted == false(), managing.c.param == "organization",
                managing.c.target_type == "Organization",
                managing.c.resource_type == "Patient",
                managing.c.target_id.in_(sorted(self.organizations))).offset(0)))
        if self.grantees:
            # Consents are few: the patients who consented, listed once per statement.
            ways.append(patient_id.in_(_consented_to(self.grantees)))
        return or_(*ways)

    def patient_ids(self) -> Select[Any] | list[str] | None:
        """The ids of the patients whose records are visible, as SQL; None for none."""
        if not self.organizations and not self.grantees:
            return sorted(self.patients) or None
        parts: list[Select[Any]] = []
        if self.patients:
            parts += [select(literal(p)) for p in sorted(self.patients)]
        if self.organizations:
            parts.append(_managed_by(self.organizations))
        if self.grantees:
            parts.append(_consented_to(self.grantees))
        return parts[0] if len(parts) == 1 else select(union(*parts).subquery().c[0])


# mor's own work (imports, re-indexing, the export worker), started by the operator.
EVERYTHING: Final = Visibility.everything()


def _managed_by(organizations: Collection[str]) -> Select[Any]:
    ref = idx_reference.alias()
    return select(resource.c.id).where(
        resource.c.pk.in_(select(ref.c.resource_pk).where(
            ref.c.target_id.in_(sorted(organizations)), ref.c.param == "organization",
            ref.c.target_type == "Organization", ref.c.resource_type == "Patient")),
        resource.c.resource_type == "Patient", resource.c.deleted == false())


def _consented_to(grantees: Collection[tuple[str, str]]) -> Select[Any]:
    grant = idx_reference.alias()
    owner = idx_reference.alias()
    period = idx_date.alias()
    now = now_micros()
    granted = select(grant.c.resource_pk).where(
        or_(*[and_(grant.c.target_id == i, grant.c.target_type == t)
              for t, i in sorted(grantees)]),
        grant.c.param == GRANTEE_PARAM, grant.c.resource_type == "Consent")
    out_of_period = exists().where(
        period.c.resource_pk == owner.c.resource_pk, period.c.param == GRANT_PERIOD_PARAM,
        or_(period.c.low > now, period.c.high < now))
    return select(owner.c.target_id).where(
        owner.c.resource_pk.in_(granted), owner.c.param == PATIENT_PARAM,
        owner.c.resource_type == "Consent", ~out_of_period)
