"""Terminology: the code systems clinicians pick from when they record care.

ICD-10 (WHO 2019) for diagnoses, searchable as the clinician types, with Thai and
Lao names for the common primary-care codes.
"""

from mor.services.terminology.icd10 import (
    ICD10_SYSTEM,
    ICD10_VERSION,
    Diagnosis,
    lookup,
    search,
)

__all__ = ["ICD10_SYSTEM", "ICD10_VERSION", "Diagnosis", "lookup", "search"]
