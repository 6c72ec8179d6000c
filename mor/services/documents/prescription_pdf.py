"""The e-prescription of a signed visit as a PDF: who it is for, what they are allergic
to, each medicine with its dose and quantity, and who prescribed it."""

from __future__ import annotations

from mor.services.documents.model import Medicine, PatientDetails, Prescription
from mor.services.documents.pages import Page
from mor.services.documents.texts import document_date, label


def prescription_pdf(prescription: Prescription) -> bytes:
    language = prescription.language

    def t(text: str) -> str:
        return label(text, language)

    page = Page(language, t("Prescription"), made=prescription.signed)
    page.letterhead(prescription.centre)
    page.title(t("Prescription"))
    page.field(t("Date"), document_date(prescription.signed, language))
    patient_block(page, prescription.patient)
    page.heading(t("Medicine"))
    for number, medicine in enumerate(prescription.medicines, start=1):
        _medicine(page, number, medicine)
    page.gap(6)
    page.rule()
    prescriber = prescription.prescriber
    page.field(t("Prescriber"), prescriber.name)
    if prescriber.licence:
        page.field(t("Licence no."), prescriber.licence)
    page.paragraph(t("Signed electronically"), size=9)
    return page.output()


def patient_block(page: Page, patient: PatientDetails) -> None:
    """The patient as every document names them, with their allergies: a pharmacist or
    a hospital reads those before anything else."""
    language = page.language
    page.field(label("Patient", language), patient.name)
    if patient.identifier:
        page.field(label("Identifier", language), patient.identifier)
    if patient.birth_date is not None:
        page.field(label("Date of birth", language),
                   document_date(patient.birth_date, language))
    page.field(label("Allergies", language),
               ", ".join(patient.allergies) or label("No allergies recorded", language))


def _medicine(page: Page, number: int, medicine: Medicine) -> None:
    language = page.language
    named = " ".join(part for part in (medicine.name, medicine.strength) if part)
    page.paragraph(f"{number}. {named}", bold=True)
    if medicine.generic and medicine.generic != medicine.name:
        page.field(label("Generic name", language), medicine.generic)
    page.field(label("How to take", language), medicine.dose)
    page.field(label("Quantity", language), medicine.quantity)
    page.gap(1)
