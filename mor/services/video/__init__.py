"""The video consultation: its record as FHIR resources (:mod:`.consults`, the
Encounter and its waiting room; :mod:`.chat`, its messages and photos) and the relaying
of the call's set-up between the browsers (:mod:`.signalling`)."""
