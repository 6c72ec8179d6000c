"""What the documents say in Thai, Lao and English: their headings and labels, the names
of vital signs, and dates as each language writes them on a paper document.

The labels are here, not in the gettext catalogues of the pages (``mor/web/locale``):
services sit below the web layer and do not load its catalogues. Keys are the English
texts, so a label reads in the code as it prints in English.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Final

from babel.dates import format_date

LANGUAGES: Final = ("th", "lo", "en")
BUDDHIST_ERA_OFFSET: Final = 543

# -- Labels, by language: keep the three in step (a test checks every key has all). ---
LABELS: Final[Mapping[str, Mapping[str, str]]] = {
    "th": {
        "Prescription": "ใบสั่งยา",
        "Referral letter": "ใบส่งตัวผู้ป่วย",
        "Medicine label": "ฉลากยา",
        "Patient": "ผู้ป่วย",
        "Identifier": "เลขประจำตัว",
        "Date of birth": "วันเกิด",
        "Allergies": "ประวัติการแพ้",
        "No allergies recorded": "ไม่มีประวัติการแพ้",
        "Date": "วันที่",
        "Phone": "โทร.",
        "Prescriber": "แพทย์ผู้สั่งยา",
        "Licence no.": "เลขที่ใบอนุญาต",
        "Signed electronically": "ลงนามทางอิเล็กทรอนิกส์",
        "Medicine": "ยา",
        "Generic name": "ชื่อสามัญ",
        "How to take": "วิธีใช้",
        "Quantity": "จำนวน",
        "To": "ถึง",
        "Reason for referral": "เหตุผลที่ส่งตัว",
        "Urgency": "ความเร่งด่วน",
        "Urgent": "ด่วน",
        "Routine": "ตามปกติ",
        "Diagnoses": "การวินิจฉัย",
        "provisional": "เบื้องต้น",
        "Vital signs": "สัญญาณชีพ",
        "Current medicines": "ยาที่ใช้อยู่",
        "Assessment": "การประเมิน",
        "Plan": "แผนการรักษา",
        "Referring clinician": "ผู้ส่งตัว",
        "None": "ไม่มี",
        "Prescribed by": "สั่งโดย",
        "Keep out of reach of children": "เก็บให้พ้นมือเด็ก",
    },
    "lo": {
        "Prescription": "ໃບສັ່ງຢາ",
        "Referral letter": "ໃບສົ່ງຕໍ່ຄົນເຈັບ",
        "Medicine label": "ສະຫຼາກຢາ",
        "Patient": "ຄົນເຈັບ",
        "Identifier": "ເລກປະຈຳຕົວ",
        "Date of birth": "ວັນເດືອນປີເກີດ",
        "Allergies": "ປະຫວັດການແພ້",
        "No allergies recorded": "ບໍ່ມີປະຫວັດການແພ້",
        "Date": "ວັນທີ",
        "Phone": "ໂທ",
        "Prescriber": "ທ່ານໝໍຜູ້ສັ່ງຢາ",
        "Licence no.": "ເລກທີໃບອະນຸຍາດ",
        "Signed electronically": "ລົງນາມທາງອີເລັກໂທຣນິກ",
        "Medicine": "ຢາ",
        "Generic name": "ຊື່ສາມັນ",
        "How to take": "ວິທີໃຊ້",
        "Quantity": "ຈຳນວນ",
        "To": "ເຖິງ",
        "Reason for referral": "ເຫດຜົນການສົ່ງຕໍ່",
        "Urgency": "ຄວາມຮີບດ່ວນ",
        "Urgent": "ດ່ວນ",
        "Routine": "ປົກກະຕິ",
        "Diagnoses": "ການບົ່ງມະຕິ",
        "provisional": "ເບື້ອງຕົ້ນ",
        "Vital signs": "ສັນຍານຊີບ",
        "Current medicines": "ຢາທີ່ກຳລັງໃຊ້",
        "Assessment": "ການປະເມີນ",
        "Plan": "ແຜນການປິ່ນປົວ",
        "Referring clinician": "ຜູ້ສົ່ງຕໍ່",
        "None": "ບໍ່ມີ",
        "Prescribed by": "ສັ່ງໂດຍ",
        "Keep out of reach of children": "ເກັບໃຫ້ພົ້ນມືເດັກ",
    },
}

# The vital signs a visit records, by LOINC code, as visit_clinical codes them.
VITAL_SIGN_NAMES: Final[Mapping[str, Mapping[str, str]]] = {
    "85354-9": {"en": "Blood pressure", "th": "ความดันโลหิต", "lo": "ຄວາມດັນເລືອດ"},
    "8867-4": {"en": "Pulse", "th": "ชีพจร", "lo": "ກຳມະຈອນ"},
    "9279-1": {"en": "Breathing rate", "th": "อัตราการหายใจ", "lo": "ອັດຕາການຫາຍໃຈ"},
    "8310-5": {"en": "Temperature", "th": "อุณหภูมิ", "lo": "ອຸນຫະພູມ"},
    "59408-5": {"en": "Oxygen saturation (SpO2)", "th": "ความอิ่มตัวของออกซิเจน (SpO2)",
                "lo": "ຄວາມອີ່ມຕົວຂອງອົກຊີແຊນ (SpO2)"},
    "29463-7": {"en": "Weight", "th": "น้ำหนัก", "lo": "ນ້ຳໜັກ"},
    "8302-2": {"en": "Height", "th": "ส่วนสูง", "lo": "ລວງສູງ"},
    "39156-5": {"en": "Body mass index", "th": "ดัชนีมวลกาย", "lo": "ດັດຊະນີມວນກາຍ"},
}


def label(text: str, language: str) -> str:
    """``text`` (an English label of LABELS) in ``language``; English where none is."""
    return LABELS.get(language, {}).get(text, text)


def vital_sign_name(loinc: str, fallback: str, language: str) -> str:
    names = VITAL_SIGN_NAMES.get(loinc)
    if names is None:
        return fallback
    return names.get(language) or names["en"]


def document_date(day: date, language: str) -> str:
    """"3 ธันวาคม 2569", "3 ທັນວາ 2026", "3 December 2026": Thai official papers count
    years in the Buddhist Era, Lao ones in the Common Era."""
    year = day.year + (BUDDHIST_ERA_OFFSET if language == "th" else 0)
    locale = language if language in LANGUAGES else "en"
    return f"{format_date(day, 'd MMMM', locale=locale)} {year}"
