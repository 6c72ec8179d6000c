"""Who may see what: accounts, roles, SMART on FHIR scopes and tokens, and the policy
that turns them into what the FHIR store shows each caller."""
