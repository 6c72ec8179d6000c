"""Chronic patients followed from home: their monitoring plan (a FHIR ``CarePlan`` with
``Goal``s), the readings they send (``Observation``s), the rules that watch those readings,
the alerts the rules raise (``Task`` and ``Flag``), the nurse's worklist, and the centre's
control rates. docs/home-monitoring.md tells the whole of it."""
