"""The city formulary: essential medicines for primary care, after the WHO Model List of
Essential Medicines and Thailand's National List of Essential Medicines.

Names are generic names as pharmacists write them in Bangkok (Thai transliteration) and
Vientiane (Lao script). Usual doses are the usual adult doses of the WHO Model Formulary
and the BNF; ``days=None`` means long-term use, ``days=30`` a month's supply of a
chronic medicine. A city changes its formulary here; the ids must never be reused for a
different product, since Medication resources carry them."""

from __future__ import annotations

from typing import Final

from mor.services.prescribing.model import Amount, Entry, Ingredient, Names, UsualDose

_TAB: Final = Amount(1, "{tablet}")
_CAP: Final = Amount(1, "{capsule}")
_GRAM: Final = Amount(1, "g")
_ML: Final = Amount(1, "mL")
_5ML: Final = Amount(5, "mL")
_PUFF: Final = Amount(1, "{puff}")
_SACHET: Final = Amount(1, "{sachet}")

_MONTH: Final = 30


def _dose(amount: float | None, unit: str, per_day: int, days: int | None = _MONTH,
          *, as_needed: bool = False) -> UsualDose:
    return UsualDose(amount, unit, per_day, days, as_needed)


def _single(id: str, atc: str, names: Names, value: float, unit: str, dose: UsualDose, *,
            form: str = "tablet", route: str = "oral", per: Amount = _TAB,
            ingredient: str | None = None, extra: frozenset[str] = frozenset()) -> Entry:
    return Entry(id, atc, names, form, route, per,
                 (Ingredient(ingredient or names.en, atc, Amount(value, unit)),), dose, extra)


def _tab(id: str, atc: str, en: str, th: str, lo: str, mg: float, dose: UsualDose,
         unit: str = "mg") -> Entry:
    return _single(id, atc, Names(en, th, lo), mg, unit, dose)


def _cap(id: str, atc: str, en: str, th: str, lo: str, mg: float, dose: UsualDose) -> Entry:
    return _single(id, atc, Names(en, th, lo), mg, "mg", dose, form="capsule", per=_CAP)


def _cream(id: str, atc: str, en: str, th: str, lo: str, mg_per_g: float, per_day: int,
           days: int) -> Entry:
    # Percent strengths (w/w) as mg per g: 1 % is 10 mg/g.
    return _single(id, atc, Names(en, th, lo), mg_per_g, "mg",
                   _dose(None, "application", per_day, days), form="cream",
                   route="cutaneous", per=_GRAM, ingredient=en.removesuffix(" cream"))


FORMULARY: Final[tuple[Entry, ...]] = (
    # -- cardiovascular --------------------------------------------------------------
    _tab("amlodipine-5-tab", "C08CA01", "Amlodipine", "แอมโลดิปีน", "ອາມໂລດິປີນ", 5,
         _dose(1, "tablet", 1)),
    _tab("enalapril-5-tab", "C09AA02", "Enalapril", "อีนาลาพริล", "ເອນາລາປຣິລ", 5,
         _dose(1, "tablet", 2)),
    _tab("losartan-50-tab", "C09CA01", "Losartan", "ลอซาร์แทน", "ໂລຊາຕານ", 50,
         _dose(1, "tablet", 1)),
    _tab("hydrochlorothiazide-25-tab", "C03AA03", "Hydrochlorothiazide",
         "ไฮโดรคลอโรไทอะไซด์", "ໄຮໂດຣຄໍໂຣທີອາໄຊດ໌", 25, _dose(1, "tablet", 1)),
    _tab("atenolol-50-tab", "C07AB03", "Atenolol", "อะทีโนลอล", "ອາເທໂນລອນ", 50,
         _dose(1, "tablet", 1)),
    _tab("propranolol-10-tab", "C07AA05", "Propranolol", "โพรพราโนลอล", "ໂປຣປຣາໂນລອນ", 10,
         _dose(1, "tablet", 2)),
    _tab("furosemide-40-tab", "C03CA01", "Furosemide", "ฟูโรซีไมด์", "ຟູໂຣເຊໄມດ໌", 40,
         _dose(1, "tablet", 1)),
    _tab("simvastatin-20-tab", "C10AA01", "Simvastatin", "ซิมวาสแตติน", "ຊິມວາສະຕາຕິນ", 20,
         _dose(1, "tablet", 1)),
    _tab("atorvastatin-20-tab", "C10AA05", "Atorvastatin", "อะทอร์วาสแตติน",
         "ອາໂທວາສະຕາຕິນ", 20, _dose(1, "tablet", 1)),
    _tab("atorvastatin-40-tab", "C10AA05", "Atorvastatin", "อะทอร์วาสแตติน",
         "ອາໂທວາສະຕາຕິນ", 40, _dose(1, "tablet", 1)),
    _tab("aspirin-81-tab", "B01AC06", "Aspirin", "แอสไพริน", "ແອັດສະໄພຣິນ", 81,
         _dose(1, "tablet", 1)),
    _tab("clopidogrel-75-tab", "B01AC04", "Clopidogrel", "โคลพิโดเกรล", "ໂຄລພິໂດເກຣວ", 75,
         _dose(1, "tablet", 1)),
    _tab("warfarin-3-tab", "B01AA03", "Warfarin", "วาร์ฟาริน", "ວາຟາຣິນ", 3,
         _dose(1, "tablet", 1)),
    # -- diabetes and thyroid --------------------------------------------------------
    _tab("metformin-500-tab", "A10BA02", "Metformin", "เมทฟอร์มิน", "ເມັດຟໍມິນ", 500,
         _dose(1, "tablet", 2)),
    _tab("glipizide-5-tab", "A10BB07", "Glipizide", "กลิพิไซด์", "ກລີພີໄຊດ໌", 5,
         _dose(1, "tablet", 1)),
    _tab("gliclazide-80-tab", "A10BB09", "Gliclazide", "กลิคลาไซด์", "ກລີຄລາໄຊດ໌", 80,
         _dose(1, "tablet", 1)),
    _tab("glibenclamide-5-tab", "A10BB01", "Glibenclamide", "ไกลเบนคลาไมด์",
         "ກລີເບັນຄລາໄມດ໌", 5, _dose(1, "tablet", 1)),
    _single("insulin-nph-100-inj", "A10AC01",
            Names("Insulin isophane (NPH)", "อินซูลิน เอ็นพีเอช", "ອິນຊູລິນ ເອັນພີເອັຊ"),
            100, "[iU]", _dose(10, "unit", 1), form="injection-suspension",
            route="subcutaneous", per=_ML),
    _single("insulin-regular-100-inj", "A10AB01",
            Names("Insulin regular (soluble)", "อินซูลิน ชนิดออกฤทธิ์สั้น",
                  "ອິນຊູລິນ ອອກລິດໄວ"),
            100, "[iU]", _dose(4, "unit", 3), form="injection-solution",
            route="subcutaneous", per=_ML),
    _tab("levothyroxine-50-tab", "H03AA01", "Levothyroxine", "เลโวไทรอกซีน",
         "ເລໂວໄທຣອກຊິນ", 50, _dose(1, "tablet", 1), unit="ug"),
    # -- pain, fever, gout -----------------------------------------------------------
    _tab("paracetamol-500-tab", "N02BE01", "Paracetamol", "พาราเซตามอล", "ພາຣາເຊຕາມອນ", 500,
         _dose(1, "tablet", 4, 3, as_needed=True)),
    _single("paracetamol-120-5ml-syr", "N02BE01",
            Names("Paracetamol syrup", "พาราเซตามอล ชนิดน้ำเชื่อม", "ພາຣາເຊຕາມອນ ນ້ຳເຊື່ອມ"),
            120, "mg", _dose(5, "mL", 4, 3, as_needed=True), form="oral-solution",
            per=_5ML, ingredient="Paracetamol"),
    _tab("ibuprofen-400-tab", "M01AE01", "Ibuprofen", "ไอบูโพรเฟน", "ໄອບູໂປຣເຟນ", 400,
         _dose(1, "tablet", 3, 5)),
    _tab("diclofenac-25-tab", "M01AB05", "Diclofenac", "ไดโคลฟีแนค", "ໄດໂຄລເຟແນັກ", 25,
         _dose(1, "tablet", 3, 5)),
    _tab("naproxen-250-tab", "M01AE02", "Naproxen", "นาพรอกเซน", "ນາໂປຣກເຊນ", 250,
         _dose(1, "tablet", 2, 5)),
    _cap("tramadol-50-cap", "N02AX02", "Tramadol", "ทรามาดอล", "ທຣາມາດອນ", 50,
         _dose(1, "capsule", 3, 5, as_needed=True)),
    _tab("allopurinol-100-tab", "M04AA01", "Allopurinol", "อัลโลพูรินอล", "ອັລໂລພູຣິນອນ",
         100, _dose(1, "tablet", 1)),
    _tab("colchicine-0.6-tab", "M04AC01", "Colchicine", "โคลชิซีน", "ໂຄລຊິຊິນ", 0.6,
         _dose(1, "tablet", 2, 5)),
    # -- antibiotics -----------------------------------------------------------------
    _cap("amoxicillin-500-cap", "J01CA04", "Amoxicillin", "อะม็อกซีซิลลิน",
         "ອາມົອກຊີຊິລລິນ", 500, _dose(1, "capsule", 3, 7)),
    _single("amoxicillin-250-5ml-susp", "J01CA04",
            Names("Amoxicillin suspension", "อะม็อกซีซิลลิน ชนิดผงแขวนตะกอน",
                  "ອາມົອກຊີຊິລລິນ ນ້ຳແຂວນ"),
            250, "mg", _dose(5, "mL", 3, 7), form="powder-oral-suspension", per=_5ML,
            ingredient="Amoxicillin"),
    Entry("amoxicillin-clavulanate-500-125-tab", "J01CR02",
          Names("Amoxicillin and clavulanic acid", "อะม็อกซีซิลลิน/คลาวูลาเนต",
                "ອາມົອກຊີຊິລລິນ/ຄລາວູລາເນດ"),
          "tablet", "oral", _TAB,
          (Ingredient("Amoxicillin", "J01CA04", Amount(500, "mg")),
           Ingredient("Clavulanic acid", None, Amount(125, "mg"))),
          _dose(1, "tablet", 3, 7)),
    _cap("dicloxacillin-250-cap", "J01CF01", "Dicloxacillin", "ไดคล็อกซาซิลลิน",
         "ໄດຄລົອກຊາຊິລລິນ", 250, _dose(2, "capsule", 4, 7)),
    _cap("cefalexin-500-cap", "J01DB01", "Cefalexin", "เซฟาเลกซิน", "ເຊຟາເລັກຊິນ", 500,
         _dose(1, "capsule", 4, 7)),
    _tab("azithromycin-250-tab", "J01FA10", "Azithromycin", "อะซิโทรมัยซิน",
         "ອາຊິໂທຣມາຍຊິນ", 250, _dose(2, "tablet", 1, 3)),
    _tab("clarithromycin-500-tab", "J01FA09", "Clarithromycin", "คลาริโทรมัยซิน",
         "ຄລາຣິໂທຣມາຍຊິນ", 500, _dose(1, "tablet", 2, 7)),
    _cap("doxycycline-100-cap", "J01AA02", "Doxycycline", "ด็อกซีไซคลิน", "ດົອກຊີໄຊຄລິນ",
         100, _dose(1, "capsule", 2, 7)),
    _tab("ciprofloxacin-500-tab", "J01MA02", "Ciprofloxacin", "ไซโปรฟลอกซาซิน",
         "ຊິໂປຣຟລອກຊາຊິນ", 500, _dose(1, "tablet", 2, 5)),
    _tab("norfloxacin-400-tab", "J01MA06", "Norfloxacin", "นอร์ฟลอกซาซิน", "ນໍຟລອກຊາຊິນ",
         400, _dose(1, "tablet", 2, 3)),
    Entry("co-trimoxazole-400-80-tab", "J01EE01",
          Names("Co-trimoxazole (sulfamethoxazole and trimethoprim)",
                "โคไตรม็อกซาโซล", "ໂຄໄຕຣມົອກຊາໂຊນ"),
          "tablet", "oral", _TAB,
          (Ingredient("Sulfamethoxazole", "J01EC01", Amount(400, "mg")),
           Ingredient("Trimethoprim", "J01EA01", Amount(80, "mg"))),
          _dose(2, "tablet", 2, 5)),
    _tab("metronidazole-400-tab", "P01AB01", "Metronidazole", "เมโทรนิดาโซล",
         "ເມໂທຣນິດາໂຊນ", 400, _dose(1, "tablet", 3, 7)),
    _cap("nitrofurantoin-100-cap", "J01XE01", "Nitrofurantoin", "ไนโตรฟูแรนโทอิน",
         "ໄນໂຕຣຟູຣານໂທອິນ", 100, _dose(1, "capsule", 2, 5)),
    # -- tuberculosis ----------------------------------------------------------------
    _tab("isoniazid-100-tab", "J04AC01", "Isoniazid", "ไอโซไนอาซิด", "ໄອໂຊໄນອາຊິດ", 100,
         _dose(3, "tablet", 1, 180)),
    _tab("isoniazid-300-tab", "J04AC01", "Isoniazid", "ไอโซไนอาซิด", "ໄອໂຊໄນອາຊິດ", 300,
         _dose(1, "tablet", 1, 180)),
    _cap("rifampicin-300-cap", "J04AB02", "Rifampicin", "ไรแฟมพิซิน", "ຣິຟາມປິຊິນ", 300,
         _dose(2, "capsule", 1, 180)),
    _cap("rifampicin-450-cap", "J04AB02", "Rifampicin", "ไรแฟมพิซิน", "ຣິຟາມປິຊິນ", 450,
         _dose(1, "capsule", 1, 180)),
    _tab("pyrazinamide-500-tab", "J04AK01", "Pyrazinamide", "ไพราซินาไมด์", "ໄພຣາຊິນາໄມດ໌",
         500, _dose(3, "tablet", 1, 60)),
    _tab("ethambutol-400-tab", "J04AK02", "Ethambutol", "อีแทมบูทอล", "ເອທາມບູທອນ", 400,
         _dose(2, "tablet", 1, 60)),
    # -- respiratory and allergy -----------------------------------------------------
    _single("salbutamol-100-inh", "R03AC02",
            Names("Salbutamol inhaler", "ซัลบูทามอล ชนิดสูด", "ຊາລບູທາມອນ ຊະນິດສູດ"),
            100, "ug", _dose(2, "puff", 4, _MONTH, as_needed=True),
            form="pressurised-inhalation", route="inhalation", per=_PUFF, ingredient="Salbutamol"),
    _single("budesonide-200-inh", "R03BA02",
            Names("Budesonide inhaler", "บูเดโซไนด์ ชนิดสูด", "ບູເດໂຊໄນດ໌ ຊະນິດສູດ"),
            200, "ug", _dose(1, "puff", 2), form="pressurised-inhalation",
            route="inhalation", per=_PUFF, ingredient="Budesonide"),
    _tab("prednisolone-5-tab", "H02AB06", "Prednisolone", "เพรดนิโซโลน", "ເພຣດນິໂຊໂລນ", 5,
         _dose(6, "tablet", 1, 5)),
    _tab("cetirizine-10-tab", "R06AE07", "Cetirizine", "เซทิริซีน", "ເຊທິຣິຊິນ", 10,
         _dose(1, "tablet", 1, 7)),
    _tab("chlorphenamine-4-tab", "R06AB04", "Chlorphenamine", "คลอร์เฟนิรามีน",
         "ຄລໍເຟນິຣາມິນ", 4, _dose(1, "tablet", 3, 5, as_needed=True)),
    _tab("loratadine-10-tab", "R06AX13", "Loratadine", "ลอราทาดีน", "ລໍຣາທາດິນ", 10,
         _dose(1, "tablet", 1, 7)),
    # -- stomach and gut -------------------------------------------------------------
    _cap("omeprazole-20-cap", "A02BC01", "Omeprazole", "โอเมพราโซล", "ໂອເມພຣາໂຊນ", 20,
         _dose(1, "capsule", 1, 28)),
    Entry("antacid-oral-susp", "A02AD01",
          Names("Antacid (aluminium and magnesium hydroxide)", "ยาลดกรด (อะลูมินา-แมกนีเซีย)",
                "ຢາຫຼຸດກົດ (ອາລູມິນຽມ-ແມັກນີຊຽມ)"),
          "oral-suspension", "oral", _5ML,
          (Ingredient("Aluminium hydroxide", "A02AB01", Amount(300, "mg")),
           Ingredient("Magnesium hydroxide", "A02AA04", Amount(150, "mg"))),
          _dose(10, "mL", 3, 7, as_needed=True)),
    _tab("domperidone-10-tab", "A03FA03", "Domperidone", "ดอมเพอริโดน", "ດອມເປຣິໂດນ", 10,
         _dose(1, "tablet", 3, 3)),
    Entry("ors-sachet", "A07CA",
          Names("Oral rehydration salts", "ผงเกลือแร่ (โออาร์เอส)", "ເກືອແຮ່ (ໂອອາເອສ)"),
          "powder-oral-solution", "oral", _SACHET,
          (Ingredient("Sodium chloride", None, Amount(2.6, "g")),
           Ingredient("Glucose, anhydrous", None, Amount(13.5, "g")),
           Ingredient("Potassium chloride", None, Amount(1.5, "g")),
           Ingredient("Trisodium citrate dihydrate", None, Amount(2.9, "g"))),
          _dose(1, "sachet", 4, 2, as_needed=True)),
    _cap("loperamide-2-cap", "A07DA03", "Loperamide", "โลเพอราไมด์", "ໂລເປຣາໄມດ໌", 2,
         _dose(1, "capsule", 4, 2, as_needed=True)),
    # -- mental health ---------------------------------------------------------------
    _cap("fluoxetine-20-cap", "N06AB03", "Fluoxetine", "ฟลูออกซิทีน", "ຟລູອອກຊິທິນ", 20,
         _dose(1, "capsule", 1)),
    _tab("sertraline-50-tab", "N06AB06", "Sertraline", "เซอร์ทราลีน", "ເຊີທຣາລິນ", 50,
         _dose(1, "tablet", 1)),
    _tab("amitriptyline-25-tab", "N06AA09", "Amitriptyline", "อะมิทริปไทลีน",
         "ອາມິທຣິບໄທລິນ", 25, _dose(1, "tablet", 1)),
    _tab("diazepam-2-tab", "N05BA01", "Diazepam", "ไดอะซีแพม", "ໄດອາເຊແພມ", 2,
         _dose(1, "tablet", 2, 7, as_needed=True)),
    # -- skin ------------------------------------------------------------------------
    _cream("hydrocortisone-1pc-cream", "D07AA02", "Hydrocortisone cream",
           "ไฮโดรคอร์ติโซน ครีม", "ໄຮໂດຣຄໍຕິໂຊນ ຄຣີມ", 10, 2, 7),
    _cream("triamcinolone-0.1pc-cream", "D07AB09", "Triamcinolone cream",
           "ไตรแอมซิโนโลน ครีม", "ໄຕຣແອມຊິໂນໂລນ ຄຣີມ", 1, 2, 7),
    _cream("clotrimazole-1pc-cream", "D01AC01", "Clotrimazole cream", "โคลไตรมาโซล ครีม",
           "ໂຄລໄຕຣມາໂຊນ ຄຣີມ", 10, 2, 14),
    _cream("permethrin-5pc-cream", "P03AC04", "Permethrin cream", "เพอร์เมทริน ครีม",
           "ເປີເມທຣິນ ຄຣີມ", 50, 1, 1),
    _single("benzyl-benzoate-25pc-lotion", "P03AX01",
            Names("Benzyl benzoate lotion", "เบนซิล เบนโซเอต", "ເບັນຊິນ ເບັນໂຊເອດ"),
            250, "mg", _dose(None, "application", 1, 2), form="lotion",
            route="cutaneous", per=_ML, ingredient="Benzyl benzoate"),
    # -- vitamins, minerals, contraception -------------------------------------------
    _tab("ferrous-sulfate-200-tab", "B03AA07", "Ferrous sulfate", "เฟอรัสซัลเฟต",
         "ເຟີຣັສຊັລເຟດ", 200, _dose(1, "tablet", 1)),
    _tab("folic-acid-5-tab", "B03BB01", "Folic acid", "กรดโฟลิก", "ກົດໂຟລິກ", 5,
         _dose(1, "tablet", 1)),
    _single("calcium-carbonate-1250-tab", "A12AA04",
            Names("Calcium carbonate", "แคลเซียมคาร์บอเนต", "ແຄລຊຽມຄາບອເນດ"),
            1250, "mg", _dose(1, "tablet", 1), form="chewable-tablet"),
    Entry("vitamin-b-complex-tab", "A11EA",
          Names("Vitamin B complex", "วิตามินบีรวม", "ວິຕາມິນບີລວມ"),
          "tablet", "oral", _TAB, (Ingredient("Vitamin B complex", "A11EA", None),),
          _dose(1, "tablet", 1)),
    Entry("levonorgestrel-ethinylestradiol-150-30-tab", "G03AA07",
          Names("Levonorgestrel and ethinylestradiol (combined pill)",
                "ยาเม็ดคุมกำเนิด เลโวนอร์เจสเตรล/เอทินิลเอสตราไดออล",
                "ຢາຄຸມກຳເນີດ ເລໂວນໍເຈສເຕຣວ/ເອທິນິລເອສຕຣາໄດອອນ"),
          "tablet", "oral", _TAB,
          (Ingredient("Levonorgestrel", None, Amount(150, "ug")),
           Ingredient("Ethinylestradiol", None, Amount(30, "ug"))),
          _dose(1, "tablet", 1, 28)),
)
