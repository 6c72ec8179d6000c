"""The referral letter of a signed visit as a PDF: to which hospital, why and how
urgently, with what the hospital needs to take over (diagnoses, vital signs, current
medicines, the clinician's assessment and plan)."""

from __future__ import annotations

from mor.services.documents.model import ReferralLetter
from mor.services.documents.pages import Page
from mor.services.documents.prescription_pdf import patient_block
from mor.services.documents.texts import document_date, label, vital_sign_name


def referral_pdf(letter: ReferralLetter) -> bytes:
    language = letter.language

    def t(text: str) -> str:
        return label(text, language)

    page = Page(language, t("Referral letter"), made=letter.signed)
    page.letterhead(letter.centre)
    page.title(t("Referral letter"))
    page.field(t("Date"), document_date(letter.signed, language))
    page.field(t("To"), letter.hospital)
    page.field(t("Urgency"), t("Urgent") if letter.urgent else t("Routine"))
    page.gap(2)
    patient_block(page, letter.patient)
    page.heading(t("Reason for referral"))
    page.paragraph(letter.reason)
    page.heading(t("Diagnoses"))
    page.items(letter.diagnoses or (t("None"),))
    if letter.vitals:
        page.heading(t("Vital signs"))
        for vital in letter.vitals:
            page.field(vital_sign_name(vital.loinc, vital.name, language), vital.value,
                       name_width=70)
    page.heading(t("Current medicines"))
    page.items(letter.current_medicines or (t("None"),))
    for heading, text in (("Assessment", letter.assessment), ("Plan", letter.plan)):
        if text.strip():
            page.heading(t(heading))
            page.paragraph(text.strip())
    page.gap(6)
    page.rule()
    page.field(t("Referring clinician"), letter.clinician.name)
    if letter.clinician.licence:
        page.field(t("Licence no."), letter.clinician.licence)
    page.paragraph(t("Signed electronically"), size=9)
    return page.output()
