"""The two demo cities: their settings, health centres, and the names their invented
people are drawn from.

The districts (เขต in Bangkok, ເມືອງ in Vientiane) and their positions are real,
approximately; the centres in them, their services and staff are illustrative, not a
list of real facilities. Addresses name a main road of the district; no phone numbers
are given, so none can be someone's real one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final
from zoneinfo import ZoneInfo

Name = tuple[str, str]  # (in the city's own script, in Latin letters)


@dataclass(frozen=True, slots=True)
class CentrePlan:
    """One health centre of a demo city."""

    slug: str  # in the staff's usernames: doctor.<slug>
    names: Mapping[str, str]  # by language
    districts: Mapping[str, str]
    address: str
    latitude: float
    longitude: float
    services: tuple[str, ...]  # kinds (SERVICE_KINDS), general practice first
    doctors: int = 1
    nurses: int = 1
    pharmacist: bool = False
    saturday: bool = False  # also open on Saturday morning


@dataclass(frozen=True, slots=True)
class Names:
    male: tuple[Name, ...]
    female: tuple[Name, ...]
    family: tuple[Name, ...]


@dataclass(frozen=True, slots=True)
class Foreigner:
    """A patient from another country, known by passport and a name in Latin letters."""

    given: str
    family: str
    gender: str
    country: str  # the passport's issuing country, ISO 3166 alpha-3


@dataclass(frozen=True, slots=True)
class Featured:
    """A patient whose account the demo prints, to sign in as."""

    username: str
    given: Name
    family: Name
    gender: str
    birth_date: str
    centre: str  # a CentrePlan slug
    conditions: tuple[str, ...] = ()  # ICD-10 codes
    passport: str | None = None  # issuing country; None: the city's own identity card
    verified: bool = True
    note: str = ""


@dataclass(frozen=True, slots=True)
class City:
    slug: str
    names: Mapping[str, str]
    address_city: str  # Address.city of its centres and people
    country: str  # ISO 3166 alpha-2
    time_zone: str
    emergency_number: str
    language: str  # of its pages when the browser asks for none, and of its resources
    port: int
    password: str  # every demo account's
    identity_card: str  # the kind of identity document (mor.auth.identifiers.KINDS)
    centres: tuple[CentrePlan, ...]
    people: Names
    foreigners: tuple[Foreigner, ...]
    featured: tuple[Featured, ...]
    # Staff titles by role value: (for a man, for a woman).
    titles: Mapping[str, tuple[str, str]]
    # What the chronic conditions are called in the city's language, by ICD-10 code.
    condition_texts: Mapping[str, str]
    patients: int = 40
    # The hospitals its health centres refer patients to, named in each language.
    hospitals: tuple[Mapping[str, str], ...] = ()

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    @property
    def database_url(self) -> str:
        return f"sqlite:///./mor-data/demo-{self.slug}.db"

    def name(self, language: str) -> str:
        return self.names.get(language) or self.names["en"]


GP, HYPERTENSION, DIABETES = "general-practice", "hypertension", "diabetes"
MENTAL, SKIN, TB, HOME = "mental-health", "skin", "tuberculosis", "home-care"


# How a health centre is called in each city's language: "<word> <district>".
_THAI: Final = ("th", "ศูนย์บริการสาธารณสุข")
_LAO: Final = ("lo", "ສຸກສາລາ")


def _centre(naming: tuple[str, str], slug: str, local: str, english: str, road: str,
            latitude: float, longitude: float, services: tuple[str, ...], *,
            doctors: int = 1, nurses: int = 1, pharmacist: bool = False,
            saturday: bool = False) -> CentrePlan:
    language, word = naming
    return CentrePlan(
        slug, {language: f"{word} {local}", "en": f"{english} Health Centre"},
        {language: local, "en": english}, road, latitude, longitude, (GP, *services),
        doctors=doctors, nurses=nurses, pharmacist=pharmacist, saturday=saturday)


BANGKOK: Final = City(
    slug="bangkok", names={"th": "กรุงเทพมหานคร", "en": "Bangkok"}, address_city="Bangkok",
    country="TH", time_zone="Asia/Bangkok", emergency_number="1669", language="th",
    port=8000, password="demo-password-bkk", identity_card="th-national-id",
    centres=(
        _centre(_THAI, "bangrak", "บางรัก", "Bang Rak", "ถนนสีลม / Si Lom Road",
                13.7262, 100.5234, (HYPERTENSION, DIABETES, MENTAL), doctors=2,
                nurses=2, pharmacist=True, saturday=True),
        _centre(_THAI, "phranakhon", "พระนคร", "Phra Nakhon",
                "ถนนราชดำเนินกลาง / Ratchadamnoen Klang Road", 13.7563, 100.5018,
                (HYPERTENSION, SKIN, HOME)),
        _centre(_THAI, "pathumwan", "ปทุมวัน", "Pathum Wan", "ถนนพระรามที่ 1 / Rama I Road",
                13.7446, 100.5309, (HYPERTENSION, DIABETES, SKIN)),
        _centre(_THAI, "dindaeng", "ดินแดง", "Din Daeng", "ถนนดินแดง / Din Daeng Road",
                13.7700, 100.5530, (HYPERTENSION, DIABETES, TB), doctors=2,
                pharmacist=True, saturday=True),
        _centre(_THAI, "huaikhwang", "ห้วยขวาง", "Huai Khwang",
                "ถนนประชาราษฎร์บำเพ็ญ / Pracha Rat Bamphen Road", 13.7760, 100.5790,
                (MENTAL, TB)),
        _centre(_THAI, "chatuchak", "จตุจักร", "Chatuchak", "ถนนพหลโยธิน / Phahon Yothin Road",
                13.8281, 100.5599, (HYPERTENSION, DIABETES, MENTAL, HOME), doctors=2,
                nurses=2, pharmacist=True, saturday=True),
        _centre(_THAI, "khlongtoei", "คลองเตย", "Khlong Toei", "ถนนพระรามที่ 4 / Rama IV Road",
                13.7083, 100.5833, (HYPERTENSION, TB, SKIN), nurses=2),
        _centre(_THAI, "bangkapi", "บางกะปิ", "Bang Kapi", "ถนนลาดพร้าว / Lat Phrao Road",
                13.7659, 100.6470, (DIABETES, HOME)),
    ),
    people=Names(
        male=(("สมชาย", "Somchai"), ("ประเสริฐ", "Prasert"), ("วิชัย", "Wichai"),
              ("สมศักดิ์", "Somsak"), ("อนุชา", "Anucha"), ("ธนากร", "Thanakorn"),
              ("ณัฐพล", "Nattaphon"), ("กิตติพงษ์", "Kittiphong"), ("สุรชัย", "Surachai"),
              ("ชัยวัฒน์", "Chaiwat"), ("บุญมี", "Boonmee"), ("ธีรวัฒน์", "Theerawat"),
              ("อำนาจ", "Amnat"), ("พงศกร", "Phongsakorn")),
        female=(("สมศรี", "Somsri"), ("มาลี", "Malee"), ("สุดารัตน์", "Sudarat"),
                ("วันเพ็ญ", "Wanphen"), ("กาญจนา", "Kanchana"), ("นภาพร", "Naphaphon"),
                ("ปวีณา", "Paweena"), ("ศิริพร", "Siriporn"), ("อรุณี", "Arunee"),
                ("จันทร์เพ็ญ", "Chanphen"), ("พิมพ์ชนก", "Phimchanok"), ("ณัฐธิดา", "Natthida")),
        family=(("ใจดี", "Jaidee"), ("สุขสวัสดิ์", "Suksawat"), ("ศรีสุข", "Srisuk"),
                ("วงศ์สวัสดิ์", "Wongsawat"), ("แก้วมณี", "Kaewmanee"), ("ทองดี", "Thongdee"),
                ("บุญเรือง", "Boonruang"), ("จันทร์หอม", "Chanhom"), ("รักษาศรี", "Raksasri"),
                ("พรหมมา", "Phromma"), ("สมบูรณ์", "Somboon"), ("มั่นคง", "Mankhong"),
                ("ศรีวงศ์", "Sriwong"), ("เพชรรัตน์", "Phetcharat"), ("อินทร์แก้ว", "Inkaew"),
                ("ปัญญาดี", "Panyadee"))),
    # Workers from neighbouring countries, as many in Bangkok are.
    foreigners=(Foreigner("Bounmy", "Sisavath", "male", "LAO"),
                Foreigner("Kyaw Zin", "Htet", "male", "MMR"),
                Foreigner("Su Su", "Hlaing", "female", "MMR"),
                Foreigner("Sokha", "Chan", "female", "KHM")),
    featured=(
        Featured("patient.somchai", ("สมชาย", "Somchai"), ("ใจดี", "Jaidee"), "male",
                 "1962-03-14", "bangrak", ("I10", "E78"),
                 note="hypertension, dyslipidaemia; follow-up booked"),
        Featured("patient.malee", ("มาลี", "Malee"), ("ศรีสุข", "Srisuk"), "female",
                 "1970-11-02", "dindaeng", ("E11", "I10"),
                 note="type 2 diabetes; follow-up booked"),
        Featured("patient.khamla", ("Khamla", "Khamla"), ("Phommachanh", "Phommachanh"),
                 "female", "1995-06-21", "khlongtoei", passport="LAO",
                 note="Lao worker in Bangkok, by passport"),
        Featured("patient.ploy", ("พลอย", "Ploy"), ("ทองดี", "Thongdee"), "female",
                 "2001-08-09", "pathumwan", verified=False,
                 note="identity not yet checked by staff"),
    ),
    titles={"doctor": ("นพ.", "พญ."), "nurse": ("พว.", "พว."), "pharmacist": ("ภก.", "ภญ."),
            "centre-admin": ("นาย", "นางสาว"), "city-admin": ("นาย", "นางสาว")},
    condition_texts={"I10": "ความดันโลหิตสูง", "E11": "เบาหวานชนิดที่ 2",
                     "E78": "ไขมันในเลือดผิดปกติ"},
    hospitals=({"th": "โรงพยาบาลวชิรพยาบาล", "en": "Vajira Hospital"},
               {"th": "โรงพยาบาลราชวิถี", "en": "Rajavithi Hospital"}),
)

VIENTIANE: Final = City(
    slug="vientiane", names={"lo": "ນະຄອນຫຼວງວຽງຈັນ", "en": "Vientiane"},
    address_city="Vientiane", country="LA", time_zone="Asia/Vientiane",
    emergency_number="1195", language="lo", port=8001, password="demo-password-vte",
    identity_card="la-national-id",
    centres=(
        _centre(_LAO, "chanthabouly", "ຈັນທະບູລີ", "Chanthabouly",
                "ຖະໜົນ ສາມແສນໄທ / Samsenthai Road", 17.9667, 102.6080,
                (HYPERTENSION, DIABETES, MENTAL), doctors=2, nurses=2,
                pharmacist=True, saturday=True),
        _centre(_LAO, "sikhottabong", "ສີໂຄດຕະບອງ", "Sikhottabong",
                "ຖະໜົນ ຫຼວງພະບາງ / Luang Prabang Road", 17.9680, 102.5700,
                (HYPERTENSION, TB)),
        _centre(_LAO, "xaysetha", "ໄຊເສດຖາ", "Xaysetha", "ຖະໜົນ ກຳແພງເມືອງ / Kamphaengmeuang Road",
                17.9900, 102.6450, (DIABETES, SKIN, HOME), doctors=2),
        _centre(_LAO, "sisattanak", "ສີສັດຕະນາກ", "Sisattanak",
                "ຖະໜົນ ທ່າເດື່ອ / Thadeua Road", 17.9380, 102.6250,
                (HYPERTENSION, DIABETES, HOME), pharmacist=True, saturday=True),
        _centre(_LAO, "xaythany", "ໄຊທານີ", "Xaythany", "ຖະໜົນ 450 ປີ / 450 Years Road",
                18.0600, 102.6900, (TB, HYPERTENSION), nurses=2),
    ),
    people=Names(
        male=(("ສົມພອນ", "Somphone"), ("ບຸນມີ", "Bounmy"), ("ຄຳພັນ", "Khamphanh"),
              ("ສຸລິຍາ", "Souliya"), ("ພອນສະຫວັນ", "Phonsavanh"), ("ທອງສະຫວັນ", "Thongsavanh"),
              ("ສີສຸກ", "Sisouk"), ("ບຸນທັນ", "Bounthanh"), ("ແສງອາລຸນ", "Sengaloun"),
              ("ວິລະສັກ", "Vilasak"), ("ສົມສັກ", "Somsack")),
        female=(("ມະນີວັນ", "Manivanh"), ("ຄຳແພງ", "Khamphaeng"), ("ວຽງຄຳ", "Viengkham"),
                ("ພອນທິບ", "Phonthip"), ("ແສງຈັນ", "Sengchanh"), ("ບົວພັນ", "Bouaphanh"),
                ("ຈັນທະລາ", "Chanthala"), ("ອາລຸນີ", "Alouny"), ("ນາລີ", "Naly"),
                ("ສຸດາວັນ", "Soudavanh"), ("ມາລີ", "Mali")),
        family=(("ສີສະຫວາດ", "Sisavath"), ("ພົມມະຈັນ", "Phommachanh"), ("ແກ້ວມະນີ", "Keomany"),
                ("ວົງສະຫວັນ", "Vongsavanh"), ("ສຸວັນນະວົງ", "Souvannavong"),
                ("ໄຊຍະວົງ", "Xayavong"), ("ອິນທະວົງ", "Inthavong"), ("ພົມມະວົງ", "Phommavong"),
                ("ຈັນທະວົງ", "Chanthavong"), ("ສີລາວົງ", "Silavong"), ("ດວງມາລາ", "Douangmala"),
                ("ລາດສະວົງ", "Latsavong"))),
    foreigners=(Foreigner("Wichai", "Srisuk", "male", "THA"),
                Foreigner("Thi Lan", "Nguyen", "female", "VNM"),
                Foreigner("Wei", "Wang", "male", "CHN")),
    featured=(
        Featured("patient.somphone", ("ສົມພອນ", "Somphone"), ("ສີສະຫວາດ", "Sisavath"), "male",
                 "1960-05-03", "chanthabouly", ("I10",),
                 note="hypertension; follow-up booked"),
        Featured("patient.manivanh", ("ມະນີວັນ", "Manivanh"), ("ພົມມະຈັນ", "Phommachanh"),
                 "female", "1968-01-27", "sisattanak", ("E11", "E78"),
                 note="type 2 diabetes, dyslipidaemia; follow-up booked"),
        Featured("patient.niran", ("Niran", "Niran"), ("Boonruang", "Boonruang"), "male",
                 "1988-09-30", "xaysetha", passport="THA",
                 note="Thai engineer in Vientiane, by passport"),
        Featured("patient.noy", ("ນ້ອຍ", "Noy"), ("ວົງສະຫວັນ", "Vongsavanh"), "female",
                 "1999-12-12", "sikhottabong", verified=False,
                 note="identity not yet checked by staff"),
    ),
    titles={"doctor": ("ທ່ານໝໍ", "ທ່ານໝໍ"), "nurse": ("ພະຍາບານ", "ພະຍາບານ"),
            "pharmacist": ("ເພສັດ", "ເພສັດ"), "centre-admin": ("ທ້າວ", "ນາງ"),
            "city-admin": ("ທ້າວ", "ນາງ")},
    condition_texts={"I10": "ຄວາມດັນເລືອດສູງ", "E11": "ເບົາຫວານ ປະເພດ 2",
                     "E78": "ໄຂມັນໃນເລືອດສູງ"},
    hospitals=({"lo": "ໂຮງໝໍມະໂຫສົດ", "en": "Mahosot Hospital"},
               {"lo": "ໂຮງໝໍເສດຖາທິລາດ", "en": "Setthathirath Hospital"}),
)

CITIES: Final = {city.slug: city for city in (BANGKOK, VIENTIANE)}
