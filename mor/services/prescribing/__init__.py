"""Prescribing: the city formulary, as data and as FHIR ``Medication`` resources, and the
warnings (allergy, duplicate therapy, interactions) shown before a medicine is
prescribed or dispensed. The screens live in :mod:`mor.web`."""
