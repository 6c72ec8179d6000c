"""ICD-10 search as the clinician types: codes, English words, Thai and Lao names."""

from __future__ import annotations

import unicodedata

import pytest

from mor.services.terminology import Diagnosis, lookup, search
from mor.services.terminology.icd10_common import COMMON_NAMES


def codes(query: str, language: str = "en", limit: int = 20) -> list[str]:
    return [diagnosis.code for diagnosis in search(query, language, limit)]


@pytest.mark.parametrize("query", ["e119", "E11.9", "e11.9", " E119 "])
def test_a_code_is_found_with_or_without_the_dot_in_any_case(query: str) -> None:
    assert codes(query)[0] == "E11.9"


def test_a_code_prefix_lists_the_category_then_its_subcategories() -> None:
    found = codes("E11.")
    assert found[0] == "E11"
    assert all(code.startswith("E11") for code in found)
    assert set(found) == {"E11", *(f"E11.{digit}" for digit in range(10))}
    # The common primary-care subcategory before the rarer ones.
    assert found[1] == "E11.9"
    assert codes("j06")[:2] == ["J06", "J06.9"]


def test_the_exact_code_comes_before_longer_codes_and_words() -> None:
    assert codes("i10")[0] == "I10"
    assert codes("B18.1")[0] == "B18.1"


def test_words_of_the_description_are_matched_by_their_start() -> None:
    found = codes("type 2 diab")
    assert found[0] == "E11"
    assert {"E11.9", "E11.2"} <= set(found)
    assert all(code.startswith("E11") for code in found)
    # Word order and case do not matter; a word in the middle is not a word start.
    assert codes("DIAB TYPE 2")[0] == "E11"
    assert codes("abetes") == []


def test_hypertension_is_found_first_for_its_first_letters() -> None:
    assert codes("hyperten")[0] == "I10"
    assert "I15" in codes("hyperten")


def test_accents_in_descriptions_do_not_stop_a_search() -> None:
    assert codes("meniere")[0] == "H81.0"
    assert codes("ménière")[0] == "H81.0"


def test_thai_is_matched_anywhere_in_the_thai_name() -> None:
    found = search("ความดัน", "th")
    assert found[0].code == "I10"
    assert found[0].name("th") == "โรคความดันโลหิตสูง"
    # Decomposed input (as some keyboards send it) finds the same.
    assert codes(unicodedata.normalize("NFD", "เบาหวาน"), "th")[0] == "E11"


def test_lao_is_matched_anywhere_in_the_lao_name() -> None:
    found = search("ເບົາຫວານ", "lo")
    assert found[0].code == "E11"
    assert "E11.9" in [d.code for d in found]
    assert found[0].name("lo") == "ພະຍາດເບົາຫວານປະເພດທີ 2"


def test_english_words_work_in_the_thai_and_lao_views_too() -> None:
    assert codes("hyperten", "th")[0] == "I10"
    assert search("hyperten", "lo")[0].name("lo") == "ພະຍາດຄວາມດັນເລືອດສູງ"


def test_thai_text_does_not_match_in_the_english_view() -> None:
    assert codes("ความดัน", "en") == []


def test_a_name_falls_back_to_english_where_there_is_no_translation() -> None:
    rare = lookup("A00.0")
    assert rare is not None
    assert rare.name("th") == rare.english == rare.name("lo") == rare.name("en")
    assert rare.english.startswith("Cholera")
    assert lookup("I10") == Diagnosis("I10", "Essential (primary) hypertension")
    assert lookup("I10").name("th-TH") == "โรคความดันโลหิตสูง"  # type: ignore[union-attr]


def test_common_primary_care_codes_come_before_rare_ones() -> None:
    found = search("gastritis")
    assert [d.code for d in found[:2]] == ["K29.7", "K29.5"]
    common = [d.is_common for d in found]
    assert common == sorted(common, reverse=True)


def test_limit_caps_the_results() -> None:
    assert len(search("disease", limit=5)) == 5
    assert len(search("disease")) == 20
    assert search("disease", limit=0) == []
    assert codes("diab", limit=3) == codes("diab")[:3]


def test_the_same_query_always_gives_the_same_order() -> None:
    assert codes("acute") == codes("acute")


def test_gibberish_finds_nothing() -> None:
    assert search("xqzzyv") == []
    assert search("") == []
    assert search("   ", "th") == []
    assert search("Z99.99.9") == []


def test_chapters_blocks_and_unknown_codes_are_not_diagnoses() -> None:
    assert lookup("I10-I15") is None  # a block
    assert lookup("IX") is None  # a chapter
    assert lookup("A90") is None  # dengue is A97 since the 2019 edition
    assert lookup("Q99.99") is None
    assert "I10-I15" not in codes("hypertensive")
    assert lookup("e119") is not None


def test_every_common_code_is_a_recordable_icd10_code() -> None:
    assert 80 <= len(COMMON_NAMES) <= 150
    for code in COMMON_NAMES:
        diagnosis = lookup(code)
        assert diagnosis is not None, code
        assert diagnosis.code == code  # dotted, as FHIR carries it
        assert diagnosis.is_common


def _has(text: str, first: int, last: int) -> bool:
    return any(first <= ord(ch) <= last for ch in text)


def test_thai_names_are_in_thai_script_and_lao_names_in_lao_script() -> None:
    for code, names in COMMON_NAMES.items():
        assert set(names) == {"th", "lo"}, code
        assert _has(names["th"], 0x0E00, 0x0E7F), code
        assert not _has(names["th"], 0x0E80, 0x0EFF), f"Lao letters in the Thai name of {code}"
        assert _has(names["lo"], 0x0E80, 0x0EFF), code
        assert not _has(names["lo"], 0x0E00, 0x0E7F), f"Thai letters in the Lao name of {code}"
        assert names["th"] == unicodedata.normalize("NFC", names["th"]), code
        assert names["lo"] == unicodedata.normalize("NFC", names["lo"]), code
