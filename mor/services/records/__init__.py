"""Reading a patient's record for the people caring for them: the summary a clinician
sees beside a video call (:mod:`.summary`), with the vital signs it shows
(:mod:`.vital_signs`) and FHIR's data types as they are shown (:mod:`.elements`)."""
