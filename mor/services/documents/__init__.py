"""The documents of a visit as PDF, in Thai, Lao or English: the e-prescription, the
referral letter and the pharmacist's medicine label (docs/consultation-record.md,
"Documents")."""

from mor.services.documents.fonts import FontMissing
from mor.services.documents.label_pdf import label_pdf
from mor.services.documents.prescription_pdf import prescription_pdf
from mor.services.documents.referral_pdf import referral_pdf
from mor.services.documents.visit_documents import (
    DocumentNotFound,
    dispensing_label,
    document_for,
    write_visit_documents,
)
from mor.services.documents.visit_record import VisitNotSigned

__all__ = ["DocumentNotFound", "FontMissing", "VisitNotSigned", "dispensing_label",
           "document_for", "label_pdf", "prescription_pdf", "referral_pdf",
           "write_visit_documents"]
