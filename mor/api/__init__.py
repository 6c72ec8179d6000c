"""The HTTP APIs: FHIR REST today; SMART, CKAN and exchange endpoints later."""
