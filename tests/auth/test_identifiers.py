"""Identity documents: a Thai national ID's check digit, the formats of the others, and
the FHIR Identifier each becomes."""

from __future__ import annotations

import pytest

from mor.auth.identifiers import IdentifierError, identifier, thai_id_is_valid

# Worked by hand: digits 1 1 0 1 7 0 0 2 0 3 4 5 weighted 13 down to 2 sum to 144;
# 144 mod 11 = 1, 11 - 1 = 10, 10 mod 10 = 0: the 13th digit is 0.
VALID_THAI_ID = "1101700203450"


def test_a_thai_id_with_the_right_check_digit_is_accepted() -> None:
    assert thai_id_is_valid(VALID_THAI_ID)
    found = identifier("th-national-id", "1-1017-00203-45-0")
    assert found["value"] == VALID_THAI_ID
    assert found["type"]["coding"][0]["code"] == "NI"


def test_typos_are_caught() -> None:
    # The check digit itself, changed, is always wrong.
    for digit in "123456789":
        assert not thai_id_is_valid(VALID_THAI_ID[:12] + digit)
    # A mistyped digit elsewhere is caught almost always. Not always: the third digit
    # has weight 11, which the sum modulo 11 cannot see, and 11 - 0 and 11 - 10 both
    # fold to check digit 1.
    typos = [VALID_THAI_ID[:position] + str(digit) + VALID_THAI_ID[position + 1:]
             for position in range(12) for digit in range(10)
             if str(digit) != VALID_THAI_ID[position]]
    caught = sum(not thai_id_is_valid(number) for number in typos)
    assert caught / len(typos) > 0.85


@pytest.mark.parametrize(("kind", "number", "country", "reason"), [
    ("th-national-id", "110170020345", None, "13 digits"),
    ("passport", "AB12345", None, "issuing country"),
    ("passport", "AB!2345", "THA", "6 to 12"),
    ("la-national-id", "12", None, "6 to 20"),
    ("driving-licence", "123456", None, "kind of identity document"),
])
def test_wrong_documents_are_refused_with_the_reason(kind: str, number: str,
                                                     country: str | None, reason: str) -> None:
    with pytest.raises(IdentifierError, match=reason):
        identifier(kind, number, country)


def test_a_passport_is_named_by_its_country() -> None:
    found = identifier("passport", "p1234567", "lao")
    assert found["system"] == "http://hl7.org/fhir/sid/passport-LAO"
    assert found["value"] == "P1234567"
