"""A ready demo city for ``mor demo``: health centres in Bangkok's or Vientiane's real
districts (the centres themselves are illustrative), their services, staff and rosters,
and invented patients with a year of appointments, all made through mor's own services
as FHIR resources in the store (:mod:`.generate`, from the tables of :mod:`.cities`).

The people are not real: names are drawn from common ones, and identity numbers are
made up (Thai ones with a valid check digit, so the forms accept them)."""
