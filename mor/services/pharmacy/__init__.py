"""The pharmacy of a health centre: checking prescriptions, dispensing them and
delivering the medicines (docs/consultation-record.md)."""
