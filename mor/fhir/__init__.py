"""The FHIR engine: validation, the resource store, search, bundles and history.

Nothing in this package knows about HTTP; the REST API in ``mor.api`` turns
requests into calls on :mod:`mor.fhir.interactions`.
"""
