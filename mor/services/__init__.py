"""Services: the work mor does for its users, built on the FHIR store."""
