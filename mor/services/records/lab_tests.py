"""The lab tests a health centre's clinician requests most, by LOINC code, with their
names in Thai, Lao and English. Only blood and urine tests a nurse can collect at home
are here; anything else is a referral."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from mor.services.prescribing.model import Names

LOINC: Final = "http://loinc.org"


@dataclass(frozen=True, slots=True)
class LabTest:
    loinc: str
    display: str  # LOINC's own short name
    names: Names
    fasting: bool = False  # the patient must not eat for 8 hours before


LAB_TESTS: Final = (
    LabTest("58410-2", "CBC panel - Blood by Automated count",
            Names("Complete blood count", "ตรวจความสมบูรณ์ของเม็ดเลือด (CBC)",
                  "ກວດເລືອດລວມ (CBC)")),
    LabTest("4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood",
            Names("HbA1c (average blood sugar)", "น้ำตาลสะสม (HbA1c)", "ນ້ຳຕານສະສົມ (HbA1c)")),
    LabTest("1558-6", "Fasting glucose [Mass/volume] in Serum or Plasma",
            Names("Fasting blood sugar", "น้ำตาลในเลือดขณะอดอาหาร",
                  "ນ້ຳຕານໃນເລືອດຕອນທ້ອງວ່າງ"), fasting=True),
    LabTest("57698-3", "Lipid panel with direct LDL - Serum or Plasma",
            Names("Blood lipids", "ไขมันในเลือด", "ໄຂມັນໃນເລືອດ"), fasting=True),
    LabTest("2160-0", "Creatinine [Mass/volume] in Serum or Plasma",
            Names("Kidney function (creatinine)", "การทำงานของไต (ครีเอตินีน)",
                  "ການເຮັດວຽກຂອງໝາກໄຂ່ຫຼັງ (ຄຣີເອຕີນິນ)")),
    LabTest("1742-6", "Alanine aminotransferase [Enzymatic activity/volume] in Serum or "
            "Plasma", Names("Liver function (ALT)", "การทำงานของตับ (ALT)",
                            "ການເຮັດວຽກຂອງຕັບ (ALT)")),
    LabTest("2823-3", "Potassium [Moles/volume] in Serum or Plasma",
            Names("Potassium", "โพแทสเซียมในเลือด", "ໂພແທດຊຽມໃນເລືອດ")),
    LabTest("3016-3", "Thyrotropin [Units/volume] in Serum or Plasma",
            Names("Thyroid (TSH)", "ฮอร์โมนไทรอยด์ (TSH)", "ຮໍໂມນໄທຣອຍ (TSH)")),
    LabTest("24356-8", "Urinalysis complete panel - Urine",
            Names("Urine test", "ตรวจปัสสาวะ", "ກວດປັດສະວະ")),
    LabTest("14959-1", "Microalbumin/Creatinine [Mass Ratio] in Urine",
            Names("Protein in urine (albumin)", "โปรตีนในปัสสาวะ (อัลบูมิน)",
                  "ໂປຣຕີນໃນປັດສະວະ (ອານບູມິນ)")),
)
BY_LOINC: Final = {test.loinc: test for test in LAB_TESTS}
