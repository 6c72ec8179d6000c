"""Health centres, their services and rosters, free slots and bookings, all kept as FHIR
resources (Organization, Location, HealthcareService, PractitionerRole, Schedule, Slot,
Appointment), so any FHIR client sees the same schedule as mor's pages."""
