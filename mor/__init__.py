"""mor: a telemedicine and health-record platform for cities, built on a FHIR R4 store."""

__version__ = "0.1.0"
